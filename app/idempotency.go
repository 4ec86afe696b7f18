package app

// A command sent with an idempotency key (the HTTP API's Idempotency-Key)
// keeps its answer under that key, so that a retry gets the first answer
// again. The channel decides what an answer is and when to keep it
// (adapters/httpapi/idempotency.go); a store keeps it and says who runs a
// key's command (postgres.Idempotency). These are the types the two share,
// so that the channel's port does not name the store's package.

// KeyRecord is what an idempotency key holds: the request it is bound to,
// by hash, and — once there is one — the command's definitive answer as
// the channel sent it.
type KeyRecord struct {
	RequestHash []byte
	Status      int // 0: no answer stored (in flight, or to be run again)
	ContentType string
	Location    string // of a created resource; "" for none
	Response    []byte
}

// KeyOwner is one request's hold on a key: while it lasts, no other
// request — in this process or another — runs the key's command. Release
// gives it up.
type KeyOwner interface {
	Release()
}

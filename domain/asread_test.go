package domain

import (
	"context"
	"fmt"
	"reflect"
	"testing"
)

// testRegistry decodes test events as the store's readers do.
var testRegistry = NewLedgerRegistry().WithKeys(testKeys)

// asRead seals events as one command appending them to stream after prev
// (the stream's envelopes so far, nil for a new stream) and decodes them
// back with the ledger's registry: what a reader of the store gets. Tests
// feed folds and queries through it, so none can pass on a shape
// production never decodes.
func asRead(prev []Envelope, stream string, meta CommandMeta, events ...Event) []Envelope {
	prevHash, next := "", uint64(0)
	if n := len(prev); n > 0 {
		prevHash, next = prev[n-1].Meta.Hash, prev[n-1].Revision+1
	}
	person, _ := PersonIDFromStream(stream)
	events, err := SealPersonal(context.Background(), testKeys, person, events)
	if err != nil {
		panic(fmt.Sprintf("seal %s: %v", meta.CommandID, err))
	}
	data, err := Seal(meta, prevHash, events)
	if err != nil {
		panic(fmt.Sprintf("seal %s: %v", meta.CommandID, err))
	}
	out := prev[:len(prev):len(prev)]
	for i, d := range data {
		rev := next + uint64(i)
		env, err := testRegistry.DecodeEnvelope(RecordedEvent{ID: d.ID, Stream: stream, Revision: rev,
			Position: Position{Commit: rev + 1, Prepare: rev + 1}, Type: d.Type, Data: d.Data, Metadata: d.Metadata})
		if err != nil {
			panic(fmt.Sprintf("decode %s: %v", d.Type, err))
		}
		out = append(out, env)
	}
	return out
}

// decoded returns e sealed and decoded back, as a reader of its stream
// gets it.
func decoded(e Event) Event {
	meta := CommandMeta{CommandID: "decoded", Actor: "test", Role: "test", Now: testNow}
	return asRead(nil, goldenPerson.Stream(), meta, e)[0].Event
}

// The registry decodes every event type to a pointer to its struct, and
// AsDecoded turns a decided event (a value) into that same shape.
func TestOneDecodedShape(t *testing.T) {
	for _, typ := range testRegistry.Types() {
		proto := testRegistry.types[typ]()
		pt := reflect.TypeOf(proto)
		if pt.Kind() != reflect.Pointer || pt.Elem().Kind() != reflect.Struct {
			t.Errorf("%s decodes to %s, not a pointer to a struct", typ, pt)
			continue
		}
		value := reflect.ValueOf(proto).Elem().Interface().(Event)
		if got := reflect.TypeOf(AsDecoded(value)); got != pt {
			t.Errorf("AsDecoded(%T) is a %s; the registry decodes %s", value, got, pt)
		}
		if AsDecoded(proto) != proto {
			t.Errorf("AsDecoded(%s) does not return the pointer itself", pt)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a value prototype did not panic")
		}
	}()
	NewRegistry(func() Event { return PersonDied{} })
}

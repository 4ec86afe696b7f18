// Package esdbtest is an in-process EventStoreDB test double: a gRPC server
// on a loopback port that implements the EventStoreDB streams service
// (Append, Read — including catch-up subscriptions to $all and to a stream,
// with server-side filters and checkpoints — Delete and Tombstone) over an
// in-memory log, using the protobuf/gRPC types shipped in
// github.com/EventStore/EventStore-Client-Go/v4/protos. The official client
// (github.com/EventStore/EventStore-Client-Go/v4/esdb) connects to it with
// Server.ConnectionString and behaves as against a single insecure node.
//
// It is a TEST DOUBLE ONLY: nothing outside tests may import it. There is no
// persistence, no cluster/gossip, no authentication or TLS, no persistent
// subscriptions, projections, users or operations (those answer
// Unimplemented), no $maxAge/$maxCount/ACL metadata (only $tb, which soft
// delete uses), no link resolution, and positions are synthetic (commit ==
// prepare, strictly increasing, byte-offset-like, first one 128).
//
// Typical use:
//
//	srv := esdbtest.Start(t)                 // listens on 127.0.0.1:0, Close on cleanup
//	cfg, _ := esdb.ParseConnectionString(srv.ConnectionString())
//	client, _ := esdb.NewClient(cfg)
//	...
//	srv.Stop()    // hard stop: connections closed, clients see Unavailable
//	srv.Restart() // same port, same log
//	srv.DropSubscriptions() // end live subscriptions with Unavailable
//
// README.md in this directory lists, behaviour by behaviour, where each rule
// was taken from (client module sources and tests, EventStoreDB server code)
// and what the double deliberately does not do.
package esdbtest

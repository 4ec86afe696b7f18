package esdbtest

import (
	"errors"
	"io"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func TestReadAll(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)
	a, b := uniqueStream("a"), uniqueStream("b")
	var written []esdb.EventData
	for i := 0; i < 5; i++ {
		ea, eb := ev("A"), ev("B")
		mustAppend(t, c, a, esdb.Any{}, ea)
		mustAppend(t, c, b, esdb.Any{}, eb)
		written = append(written, ea, eb)
	}

	all := mustReadAll(t, c, esdb.ReadAllOptions{}, 1000)
	if !equalIDs(ids(all), dataIDs(written)) {
		t.Fatalf("$all forwards: %v, want %v", ids(all), dataIDs(written))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Position.Commit <= all[i-1].Position.Commit || all[i].Position.Commit != all[i].Position.Prepare {
			t.Fatalf("positions not strictly increasing at %d: %+v then %+v", i, all[i-1].Position, all[i].Position)
		}
	}
	if all[0].Position.Commit == 0 {
		t.Fatal("first position is 0")
	}

	back := mustReadAll(t, c, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 3)
	if want := []any{all[9].EventID, all[8].EventID, all[7].EventID}; len(back) != 3 ||
		back[0].EventID != want[0] || back[1].EventID != want[1] || back[2].EventID != want[2] {
		t.Fatalf("$all backwards from end: %v", ids(back))
	}
	if got := mustReadAll(t, c, esdb.ReadAllOptions{From: esdb.Start{}}, 4); !equalIDs(ids(got), ids(all[:4])) {
		t.Fatalf("$all forwards count 4: %v", ids(got))
	}
	if got := mustReadAll(t, c, esdb.ReadAllOptions{From: esdb.End{}}, 10); len(got) != 0 {
		t.Fatalf("$all forwards from end: %v", ids(got))
	}
	if got := mustReadAll(t, c, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.Start{}}, 10); len(got) != 0 {
		t.Fatalf("$all backwards from start: %v", ids(got))
	}

	// Forwards from a position includes the event at that position (positions
	// are "pre-positions"); backwards from a position starts before it
	// ("post-positions"). Same as the server's IAllReader and the client's
	// readAllEventsForwardsFromNonZeroPosition fixture.
	p := all[4].Position
	if got := mustReadAll(t, c, esdb.ReadAllOptions{From: p}, 3); !equalIDs(ids(got), ids(all[4:7])) {
		t.Fatalf("$all forwards from %v: %v, want %v", p, ids(got), ids(all[4:7]))
	}
	back = mustReadAll(t, c, esdb.ReadAllOptions{From: p, Direction: esdb.Backwards}, 2)
	if len(back) != 2 || back[0].EventID != all[3].EventID || back[1].EventID != all[2].EventID {
		t.Fatalf("$all backwards from %v: %v", p, ids(back))
	}
	// A position between two events: forwards starts at the next one.
	mid := esdb.Position{Commit: p.Commit + 1, Prepare: p.Prepare + 1}
	if got := mustReadAll(t, c, esdb.ReadAllOptions{From: mid}, 1); len(got) != 1 || got[0].EventID != all[5].EventID {
		t.Fatalf("$all forwards from %v: %v", mid, ids(got))
	}
}

// TestFilteredReadAll uses the generated gRPC client shipped in the client
// module, because esdb.Client.ReadAll has no filter option (filters are only
// exposed for subscriptions); the server supports them on reads anyway.
func TestFilteredReadAll(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)
	acct, other := uniqueStream("acct"), uniqueStream("other")
	mustAppend(t, c, acct, esdb.NoStream{}, evs("Deposited", 3)...)
	mustAppend(t, c, other, esdb.NoStream{}, evs("Noise", 3)...)
	mustAppend(t, c, acct, esdb.Any{}, ev("Withdrawn"))
	mustAppend(t, c, other, esdb.Any{}, esdb.EventData{EventType: "$system", ContentType: esdb.ContentTypeJson, Data: []byte("{}")})

	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw := api.NewStreamsClient(conn)

	read := func(filter *api.ReadReq_Options_FilterOptions, dir api.ReadReq_Options_ReadDirection, count uint64) []string {
		t.Helper()
		opts := &api.ReadReq_Options{
			ReadDirection: dir,
			CountOption:   &api.ReadReq_Options_Count{Count: count},
			FilterOption:  &api.ReadReq_Options_Filter{Filter: filter},
			UuidOption:    &api.ReadReq_Options_UUIDOption{Content: &api.ReadReq_Options_UUIDOption_String_{String_: &shared.Empty{}}},
			StreamOption:  &api.ReadReq_Options_All{All: &api.ReadReq_Options_AllOptions{AllOption: &api.ReadReq_Options_AllOptions_Start{Start: &shared.Empty{}}}},
		}
		if dir == api.ReadReq_Options_Backwards {
			opts.StreamOption = &api.ReadReq_Options_All{All: &api.ReadReq_Options_AllOptions{AllOption: &api.ReadReq_Options_AllOptions_End{End: &shared.Empty{}}}}
		}
		rc, err := raw.Read(ctxT(t), &api.ReadReq{Options: opts})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for {
			m, err := rc.Recv()
			if errors.Is(err, io.EOF) {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			e := m.GetEvent().GetEvent()
			if e.GetId().GetString_() == "" {
				t.Fatalf("uuid_option string ignored: %v", e.GetId())
			}
			out = append(out, string(e.GetStreamIdentifier().GetStreamName())+"/"+e.GetMetadata()["type"])
		}
	}
	streamPrefix := &api.ReadReq_Options_FilterOptions{
		Filter:                       &api.ReadReq_Options_FilterOptions_StreamIdentifier{StreamIdentifier: &api.ReadReq_Options_FilterOptions_Expression{Prefix: []string{"acct-"}}},
		Window:                       &api.ReadReq_Options_FilterOptions_Count{Count: &shared.Empty{}},
		CheckpointIntervalMultiplier: 1,
	}
	got := read(streamPrefix, api.ReadReq_Options_Forwards, 100)
	want := []string{acct + "/Deposited", acct + "/Deposited", acct + "/Deposited", acct + "/Withdrawn"}
	if len(got) != len(want) || got[0] != want[0] || got[3] != want[3] {
		t.Fatalf("prefix filter: %v, want %v", got, want)
	}
	if got := read(streamPrefix, api.ReadReq_Options_Backwards, 2); len(got) != 2 || got[0] != acct+"/Withdrawn" {
		t.Fatalf("prefix filter backwards: %v", got)
	}
	noSystem := &api.ReadReq_Options_FilterOptions{
		Filter:                       &api.ReadReq_Options_FilterOptions_EventType{EventType: &api.ReadReq_Options_FilterOptions_Expression{Regex: esdb.ExcludeSystemEventsFilter().Regex}},
		Window:                       &api.ReadReq_Options_FilterOptions_Max{Max: 4},
		CheckpointIntervalMultiplier: 1,
	}
	got = read(noSystem, api.ReadReq_Options_Forwards, 100)
	if len(got) != 7 {
		t.Fatalf("ExcludeSystemEventsFilter: %v", got)
	}
	for _, g := range got {
		if g == other+"/$system" {
			t.Fatalf("system event not filtered: %v", got)
		}
	}
}

func TestUnimplementedServices(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)
	err := c.CreatePersistentSubscription(ctxT(t), "s", "g", esdb.PersistentStreamSubscriptionOptions{})
	if err == nil {
		t.Fatal("persistent subscriptions should be unimplemented")
	}
	if code := errCode(t, err); code != esdb.ErrorCodeUnsupportedFeature {
		t.Fatalf("persistent subscription create: %v (%v)", code, err)
	}
	// The client copes with a server without ServerFeatures.
	if v, err := c.GetServerVersion(); err != nil || v.Major != 0 {
		t.Fatalf("server version: %+v %v", v, err)
	}
}

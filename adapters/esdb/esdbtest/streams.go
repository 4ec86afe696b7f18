package esdbtest

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Metadata keys and values, from the server's
// Services/Transport/Grpc/Constants.cs and the client's protobuf_utils.go.
const (
	mdType        = "type"
	mdContentType = "content-type"
	mdCreated     = "created"
	contentJSON   = "application/json"
	contentBinary = "application/octet-stream"

	// readBatchSize is Enumerators.ReadBatchSize: the search window of a
	// filtered subscription whose window option is "count".
	readBatchSize = 32
	// tailBatch is how many records a subscription takes per lock round.
	tailBatch = 256
)

type streamsService struct {
	streams.UnimplementedStreamsServer // BatchAppend -> Unimplemented
	store                              *store
	maxAppendSize                      int
}

// ---- errors (RpcExceptions.cs) -----------------------------------------------

func streamDeletedErr(stream string) error {
	return status.Errorf(codes.FailedPrecondition, "Event stream '%s' is deleted.", stream)
}

func streamDeletedTrailer(stream string) metadata.MD {
	return metadata.Pairs("exception", "stream-deleted", "stream-name", stream)
}

func wrongExpectedVersionErr(op, stream string, expected, actual int64) (error, metadata.MD) {
	return status.Errorf(codes.FailedPrecondition,
			"%s failed due to WrongExpectedVersion. Stream: %s, Expected version: %d, Actual version: %d",
			op, stream, expected, actual),
		metadata.Pairs("exception", "wrong-expected-version", "stream-name", stream,
			"expected-version", strconv.FormatInt(expected, 10), "actual-version", strconv.FormatInt(actual, 10))
}

func invalidArgument(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

// ---- Append ------------------------------------------------------------------

func expectedFromAppend(o *streams.AppendReq_Options) (int64, error) {
	switch v := o.GetExpectedStreamRevision().(type) {
	case *streams.AppendReq_Options_Revision:
		return revisionToInt64(v.Revision)
	case *streams.AppendReq_Options_NoStream:
		return expectedNoStream, nil
	case *streams.AppendReq_Options_Any:
		return expectedAny, nil
	case *streams.AppendReq_Options_StreamExists:
		return expectedStreamExists, nil
	}
	return 0, invalidArgument("expected stream revision is required")
}

func revisionToInt64(r uint64) (int64, error) {
	if r >= uint64(deletedStream) {
		return 0, invalidArgument("'%d' is not a valid stream revision", r)
	}
	return int64(r), nil
}

func parseUUID(id *shared.UUID) (uuid.UUID, error) {
	switch v := id.GetValue().(type) {
	case *shared.UUID_Structured_:
		var u uuid.UUID
		binary.BigEndian.PutUint64(u[:8], uint64(v.Structured.GetMostSignificantBits()))
		binary.BigEndian.PutUint64(u[8:], uint64(v.Structured.GetLeastSignificantBits()))
		return u, nil
	case *shared.UUID_String_:
		u, err := uuid.Parse(v.String_)
		if err != nil {
			return uuid.Nil, invalidArgument("invalid event id %q: %v", v.String_, err)
		}
		return u, nil
	}
	return uuid.Nil, invalidArgument("event id is required")
}

func (h *streamsService) Append(srv streams.Streams_AppendServer) error {
	first, err := srv.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return invalidArgument("append: options message expected")
		}
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return invalidArgument("append: the first message must be options")
	}
	stream := string(opts.GetStreamIdentifier().GetStreamName())
	expected, err := expectedFromAppend(opts)
	if err != nil {
		return err
	}

	var events []proposed
	size := 0
	for {
		m, err := srv.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		pm := m.GetProposedMessage()
		if pm == nil {
			return invalidArgument("append: proposed message expected")
		}
		eventType, ok := pm.GetMetadata()[mdType]
		if !ok {
			return missingMetadata(srv)
		}
		contentType, ok := pm.GetMetadata()[mdContentType]
		if !ok {
			return missingMetadata(srv)
		}
		id, err := parseUUID(pm.GetId())
		if err != nil {
			return err
		}
		if n := len(pm.GetData()) + len(pm.GetCustomMetadata()); n > MaxEventSize {
			return invalidArgument("Event of %d bytes exceeds the maximum event size of %d bytes.", n, MaxEventSize)
		}
		size += len(eventType) + len(pm.GetData()) + len(pm.GetCustomMetadata())
		if h.maxAppendSize > 0 && size > h.maxAppendSize {
			srv.SetTrailer(metadata.Pairs("exception", "maximum-append-size-exceeded",
				"maximum-append-size", strconv.Itoa(h.maxAppendSize)))
			return invalidArgument("Maximum Append Size of %d Exceeded.", h.maxAppendSize)
		}
		events = append(events, proposed{
			id:        id,
			eventType: eventType,
			isJSON:    contentType == contentJSON,
			data:      pm.GetData(),
			metadata:  pm.GetCustomMetadata(),
		})
	}

	res := h.store.appendEvents(stream, expected, events)
	switch res.check.decision {
	case decisionDeleted:
		srv.SetTrailer(streamDeletedTrailer(stream))
		return streamDeletedErr(stream)
	case decisionWrongExpectedVersion:
		return srv.SendAndClose(&streams.AppendResp{Result: &streams.AppendResp_WrongExpectedVersion_{
			WrongExpectedVersion: wrongExpectedVersion(opts, expected, res.check.current),
		}})
	}
	success := &streams.AppendResp_Success{
		PositionOption: &streams.AppendResp_Success_Position{Position: &streams.AppendResp_Position{
			CommitPosition: res.position, PreparePosition: res.position,
		}},
	}
	if res.revision < 0 {
		success.CurrentRevisionOption = &streams.AppendResp_Success_NoStream{NoStream: &shared.Empty{}}
	} else {
		success.CurrentRevisionOption = &streams.AppendResp_Success_CurrentRevision{CurrentRevision: uint64(res.revision)}
	}
	return srv.SendAndClose(&streams.AppendResp{Result: &streams.AppendResp_Success_{Success: success}})
}

func missingMetadata(srv grpc.ServerStream) error {
	srv.SetTrailer(metadata.Pairs("exception", "missing-required-metadata-property",
		"required-metadata-properties", mdType+","+mdContentType))
	return invalidArgument("Required Metadata Properties are missing: %s, %s", mdType, mdContentType)
}

// wrongExpectedVersion fills both the current and the 20.6.0 fields, like
// Streams.Append.cs does.
func wrongExpectedVersion(opts *streams.AppendReq_Options, expected, current int64) *streams.AppendResp_WrongExpectedVersion {
	w := &streams.AppendResp_WrongExpectedVersion{}
	switch opts.GetExpectedStreamRevision().(type) {
	case *streams.AppendReq_Options_Any:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_Any_20_6_0{Any_20_6_0: &shared.Empty{}}
	case *streams.AppendReq_Options_StreamExists:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_StreamExists_20_6_0{StreamExists_20_6_0: &shared.Empty{}}
	case *streams.AppendReq_Options_NoStream:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: ^uint64(0)}
	default:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: uint64(expected)}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: uint64(expected)}
	}
	if current < 0 {
		w.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		w.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: &shared.Empty{}}
	} else {
		w.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(current)}
		w.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: uint64(current)}
	}
	return w
}

// ---- Delete / Tombstone ------------------------------------------------------

type deleteOptions interface {
	GetStreamIdentifier() *shared.StreamIdentifier
}

func expectedFromDelete(rev any) (int64, error) {
	switch v := rev.(type) {
	case *streams.DeleteReq_Options_Revision:
		return revisionToInt64(v.Revision)
	case *streams.TombstoneReq_Options_Revision:
		return revisionToInt64(v.Revision)
	case *streams.DeleteReq_Options_NoStream, *streams.TombstoneReq_Options_NoStream:
		return expectedNoStream, nil
	case *streams.DeleteReq_Options_Any, *streams.TombstoneReq_Options_Any:
		return expectedAny, nil
	case *streams.DeleteReq_Options_StreamExists, *streams.TombstoneReq_Options_StreamExists:
		return expectedStreamExists, nil
	}
	return 0, invalidArgument("expected stream revision is required")
}

func (h *streamsService) doDelete(ctx context.Context, op string, o deleteOptions, rev any, hard bool) (uint64, error) {
	stream := string(o.GetStreamIdentifier().GetStreamName())
	expected, err := expectedFromDelete(rev)
	if err != nil {
		return 0, err
	}
	res := h.store.deleteStream(stream, expected, hard)
	switch res.check.decision {
	case decisionDeleted:
		_ = grpc.SetTrailer(ctx, streamDeletedTrailer(stream))
		return 0, streamDeletedErr(stream)
	case decisionWrongExpectedVersion:
		err, md := wrongExpectedVersionErr(op, stream, expected, res.check.current)
		_ = grpc.SetTrailer(ctx, md)
		return 0, err
	}
	return res.position, nil
}

func (h *streamsService) Delete(ctx context.Context, req *streams.DeleteReq) (*streams.DeleteResp, error) {
	o := req.GetOptions()
	pos, err := h.doDelete(ctx, "Delete", o, o.GetExpectedStreamRevision(), false)
	if err != nil {
		return nil, err
	}
	return &streams.DeleteResp{PositionOption: &streams.DeleteResp_Position_{
		Position: &streams.DeleteResp_Position{CommitPosition: pos, PreparePosition: pos},
	}}, nil
}

func (h *streamsService) Tombstone(ctx context.Context, req *streams.TombstoneReq) (*streams.TombstoneResp, error) {
	o := req.GetOptions()
	pos, err := h.doDelete(ctx, "Delete", o, o.GetExpectedStreamRevision(), true)
	if err != nil {
		return nil, err
	}
	return &streams.TombstoneResp{PositionOption: &streams.TombstoneResp_Position_{
		Position: &streams.TombstoneResp_Position{CommitPosition: pos, PreparePosition: pos},
	}}, nil
}

// ---- Read ----------------------------------------------------------------------

func (h *streamsService) Read(req *streams.ReadReq, srv streams.Streams_ReadServer) error {
	o := req.GetOptions()
	if o == nil {
		return invalidArgument("read: options are required")
	}
	conv := eventConverter{uuidAsString: o.GetUuidOption().GetString_() != nil}
	backwards := o.GetReadDirection() == streams.ReadReq_Options_Backwards
	_, subscription := o.GetCountOption().(*streams.ReadReq_Options_Subscription)

	var filter *eventFilter
	if f := o.GetFilter(); f != nil {
		var err error
		if filter, err = compileFilter(f); err != nil {
			return err
		}
	}

	switch so := o.GetStreamOption().(type) {
	case *streams.ReadReq_Options_Stream:
		if filter != nil {
			return invalidArgument("filters are only supported when reading $all")
		}
		stream := string(so.Stream.GetStreamIdentifier().GetStreamName())
		fromRev, fromEnd := int64(-1), false
		switch r := so.Stream.GetRevisionOption().(type) {
		case *streams.ReadReq_Options_StreamOptions_Revision:
			rev, err := revisionToInt64(r.Revision)
			if err != nil {
				return err
			}
			fromRev = rev
		case *streams.ReadReq_Options_StreamOptions_End:
			fromEnd = true
		}
		if subscription {
			if backwards {
				return invalidArgument("subscriptions can only read forwards")
			}
			return h.subscribeStream(srv, conv, stream, fromRev, fromEnd)
		}
		return h.readStream(srv, conv, stream, fromRev, fromEnd, backwards, o.GetCount())

	case *streams.ReadReq_Options_All:
		var pos *uint64
		fromEnd := false
		switch a := so.All.GetAllOption().(type) {
		case *streams.ReadReq_Options_AllOptions_Position:
			p := a.Position.GetCommitPosition()
			pos = &p
		case *streams.ReadReq_Options_AllOptions_End:
			fromEnd = true
		}
		if subscription {
			if backwards {
				return invalidArgument("subscriptions can only read forwards")
			}
			return h.subscribeAll(srv, conv, pos, fromEnd, filter)
		}
		var match func(*record) bool
		if filter != nil {
			match = filter.match
		}
		for _, r := range h.store.readAll(pos, fromEnd, backwards, o.GetCount(), match) {
			if err := srv.Send(conv.event(r)); err != nil {
				return err
			}
		}
		return nil
	}
	return invalidArgument("read: stream or $all option is required")
}

func (h *streamsService) readStream(srv streams.Streams_ReadServer, conv eventConverter, stream string, fromRev int64, fromEnd, backwards bool, count uint64) error {
	// Forwards: Start = 0, End = nothing; backwards: End = last revision,
	// Start = revision 0 only. Revisions are inclusive in both directions.
	from := fromRev
	switch {
	case fromEnd && backwards:
		from = -1 // the store reads "last" for negative/past-the-end values
	case fromEnd:
		from = deletedStream
	case fromRev < 0:
		from = 0
	}
	recs, res := h.store.readStream(stream, from, backwards, count)
	switch res {
	case readDeleted:
		srv.SetTrailer(streamDeletedTrailer(stream))
		return streamDeletedErr(stream)
	case readNoStream:
		return srv.Send(&streams.ReadResp{Content: &streams.ReadResp_StreamNotFound_{
			StreamNotFound: &streams.ReadResp_StreamNotFound{StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(stream)}},
		}})
	}
	for _, r := range recs {
		if err := srv.Send(conv.event(r)); err != nil {
			return err
		}
	}
	return nil
}

// ---- subscriptions -------------------------------------------------------------

func confirmation() *streams.ReadResp {
	return &streams.ReadResp{Content: &streams.ReadResp_Confirmation{
		Confirmation: &streams.ReadResp_SubscriptionConfirmation{SubscriptionId: uuid.NewString()},
	}}
}

func caughtUp() *streams.ReadResp {
	return &streams.ReadResp{Content: &streams.ReadResp_CaughtUp_{CaughtUp: &streams.ReadResp_CaughtUp{}}}
}

func checkpoint(pos uint64) *streams.ReadResp {
	return &streams.ReadResp{Content: &streams.ReadResp_Checkpoint_{
		Checkpoint: &streams.ReadResp_Checkpoint{CommitPosition: pos, PreparePosition: pos},
	}}
}

var errDropped = status.Error(codes.Unavailable, "esdbtest: subscription dropped by the test server")

// subscribeAll serves a $all subscription: catch-up and live are one loop over
// the log by index, so nothing is skipped or delivered twice at the switch.
func (h *streamsService) subscribeAll(srv streams.Streams_ReadServer, conv eventConverter, pos *uint64, fromEnd bool, filter *eventFilter) error {
	ctx := srv.Context()
	next := h.store.allSubscriptionStart(pos, fromEnd)
	if err := srv.Send(confirmation()); err != nil {
		return err
	}
	var (
		interval       = 0 // checkpoint every `interval` scanned events (filtered only)
		scanned        = 0 // scanned since the last checkpoint
		lastScanned    uint64
		caughtUpIsSent = false
	)
	if filter != nil {
		interval = filter.checkpointInterval
	}
	for {
		recs, changed, dropped := h.store.tail(next, tailBatch)
		if len(recs) == 0 {
			if !caughtUpIsSent {
				if filter != nil && scanned > 0 {
					scanned = 0
					if err := srv.Send(checkpoint(lastScanned)); err != nil {
						return err
					}
				}
				if err := srv.Send(caughtUp()); err != nil {
					return err
				}
				caughtUpIsSent = true
			}
			select {
			case <-ctx.Done():
				return status.FromContextError(ctx.Err()).Err()
			case <-dropped:
				return errDropped
			case <-changed:
			}
			continue
		}
		select {
		case <-dropped:
			return errDropped
		default:
		}
		for _, r := range recs {
			next++
			if filter == nil || filter.match(r) {
				if err := srv.Send(conv.event(r)); err != nil {
					return err
				}
			}
			if filter != nil {
				scanned++
				lastScanned = r.position
				if scanned >= interval {
					scanned = 0
					if err := srv.Send(checkpoint(r.position)); err != nil {
						return err
					}
				}
			}
		}
	}
}

func (h *streamsService) subscribeStream(srv streams.Streams_ReadServer, conv eventConverter, stream string, fromRev int64, fromEnd bool) error {
	ctx := srv.Context()
	next, ok := h.store.streamSubscriptionStart(stream, fromRev, fromEnd)
	if !ok {
		srv.SetTrailer(streamDeletedTrailer(stream))
		return streamDeletedErr(stream)
	}
	if err := srv.Send(confirmation()); err != nil {
		return err
	}
	caughtUpIsSent := false
	for {
		recs, n, deleted, changed, dropped := h.store.streamTail(stream, next, tailBatch)
		next = n
		for _, r := range recs {
			if err := srv.Send(conv.event(r)); err != nil {
				return err
			}
		}
		if deleted {
			srv.SetTrailer(streamDeletedTrailer(stream))
			return streamDeletedErr(stream)
		}
		if len(recs) > 0 {
			select {
			case <-dropped:
				return errDropped
			default:
			}
			continue
		}
		if !caughtUpIsSent {
			if err := srv.Send(caughtUp()); err != nil {
				return err
			}
			caughtUpIsSent = true
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-dropped:
			return errDropped
		case <-changed:
		}
	}
}

// ---- filters -------------------------------------------------------------------

type eventFilter struct {
	byStream           bool
	re                 *regexp.Regexp
	prefixes           []string
	checkpointInterval int
}

// compileFilter mirrors Streams.Read.cs ConvertToEventFilter: a non-empty regex
// wins over the prefix list; .NET Regex.IsMatch is an unanchored search, as is
// Go's MatchString.
func compileFilter(f *streams.ReadReq_Options_FilterOptions) (*eventFilter, error) {
	ef := &eventFilter{}
	var expr *streams.ReadReq_Options_FilterOptions_Expression
	switch v := f.GetFilter().(type) {
	case *streams.ReadReq_Options_FilterOptions_StreamIdentifier:
		ef.byStream, expr = true, v.StreamIdentifier
	case *streams.ReadReq_Options_FilterOptions_EventType:
		expr = v.EventType
	default:
		return nil, invalidArgument("filter: stream_identifier or event_type expression is required")
	}
	if expr.GetRegex() != "" {
		re, err := regexp.Compile(expr.GetRegex())
		if err != nil {
			return nil, invalidArgument("filter: invalid regex %q: %v", expr.GetRegex(), err)
		}
		ef.re = re
	} else {
		ef.prefixes = expr.GetPrefix()
	}
	window := uint32(readBatchSize)
	if m, ok := f.GetWindow().(*streams.ReadReq_Options_FilterOptions_Max); ok {
		window = m.Max
	}
	multiplier := f.GetCheckpointIntervalMultiplier()
	if multiplier == 0 || window == 0 {
		return nil, invalidArgument("filter: checkpoint interval multiplier and search window must be positive")
	}
	ef.checkpointInterval = int(window) * int(multiplier)
	return ef, nil
}

func (f *eventFilter) match(r *record) bool {
	subject := r.eventType
	if f.byStream {
		subject = r.stream
	}
	if f.re != nil {
		return f.re.MatchString(subject)
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(subject, p) {
			return true
		}
	}
	return false
}

// ---- event conversion ------------------------------------------------------------

type eventConverter struct{ uuidAsString bool }

// event builds a ReadResp the way Streams.Read.cs ConvertToReadEvent does.
func (c eventConverter) event(r *record) *streams.ReadResp {
	var id *shared.UUID
	if c.uuidAsString {
		id = &shared.UUID{Value: &shared.UUID_String_{String_: r.id.String()}}
	} else {
		id = &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
			MostSignificantBits:  int64(binary.BigEndian.Uint64(r.id[:8])),
			LeastSignificantBits: int64(binary.BigEndian.Uint64(r.id[8:])),
		}}}
	}
	contentType := contentBinary
	if r.isJSON {
		contentType = contentJSON
	}
	return &streams.ReadResp{Content: &streams.ReadResp_Event{Event: &streams.ReadResp_ReadEvent{
		Event: &streams.ReadResp_ReadEvent_RecordedEvent{
			Id:               id,
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(r.stream)},
			StreamRevision:   r.revision,
			PreparePosition:  r.position,
			CommitPosition:   r.position,
			Metadata: map[string]string{
				mdType:        r.eventType,
				mdContentType: contentType,
				mdCreated:     strconv.FormatInt(r.created, 10),
			},
			CustomMetadata: r.metadata,
			Data:           r.data,
		},
		Position: &streams.ReadResp_ReadEvent_CommitPosition{CommitPosition: r.position},
	}}}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// writeProxy serves the Storage Write API in front of the emulator's own gRPC server, making up for two
// ways emulator v0.6.6 differs from BigQuery that the managed writer runs into:
//
//   - BigQuery needs the write stream (and writer schema) only on a connection's first AppendRows
//     request, and the managed writer leaves them out afterwards; the emulator then appends the rows to
//     an arbitrary open stream of any table (server/storage_handler.go, appendRows: `if streamName ==
//     "" { for _, s := range s.streamMap { ...; break } }`). The proxy repeats them on every request.
//   - BigQuery reads a DATE sent as an int32 (days since the epoch, the Storage Write API's encoding);
//     the emulator stores it as that many seconds, 1970-01-01 for every day of our era. The proxy sends
//     DATE fields as "YYYY-MM-DD" text, which the emulator stores as the day.
//   - BigQuery takes appends to many tables at once; the emulator's SQLite store fails concurrent ones
//     with "database table is locked". The proxy passes one append at a time.
//
// Everything else passes through unchanged.
type writeProxy struct {
	storagepb.UnimplementedBigQueryWriteServer
	up storagepb.BigQueryWriteClient
	mu sync.Mutex // one append in the emulator at a time
}

// serveWriteProxy serves the proxy on lis, forwarding to the emulator's gRPC server at emulator.
func serveWriteProxy(lis net.Listener, emulator string) (*grpc.Server, error) {
	conn, err := grpc.Dial(emulator, grpc.WithTransportCredentials(insecure.NewCredentials())) // grpc v1.62 (the emulator's) has no NewClient
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer()
	storagepb.RegisterBigQueryWriteServer(srv, &writeProxy{up: storagepb.NewBigQueryWriteClient(conn)})
	go func() { _ = srv.Serve(lis) }()
	return srv, nil
}

func (p *writeProxy) CreateWriteStream(ctx context.Context, req *storagepb.CreateWriteStreamRequest) (*storagepb.WriteStream, error) {
	return p.up.CreateWriteStream(ctx, req)
}

func (p *writeProxy) GetWriteStream(ctx context.Context, req *storagepb.GetWriteStreamRequest) (*storagepb.WriteStream, error) {
	return p.up.GetWriteStream(ctx, req)
}

func (p *writeProxy) FinalizeWriteStream(ctx context.Context, req *storagepb.FinalizeWriteStreamRequest) (*storagepb.FinalizeWriteStreamResponse, error) {
	return p.up.FinalizeWriteStream(ctx, req)
}

func (p *writeProxy) BatchCommitWriteStreams(ctx context.Context, req *storagepb.BatchCommitWriteStreamsRequest) (*storagepb.BatchCommitWriteStreamsResponse, error) {
	return p.up.BatchCommitWriteStreams(ctx, req)
}

func (p *writeProxy) FlushRows(ctx context.Context, req *storagepb.FlushRowsRequest) (*storagepb.FlushRowsResponse, error) {
	return p.up.FlushRows(ctx, req)
}

func (p *writeProxy) AppendRows(down storagepb.BigQueryWrite_AppendRowsServer) error {
	up, err := p.up.AppendRows(down.Context())
	if err != nil {
		return err
	}
	var stream string
	var schema *storagepb.ProtoSchema
	var dates map[string]bool
	for {
		req, err := down.Recv()
		if errors.Is(err, io.EOF) {
			return up.CloseSend()
		}
		if err != nil {
			return err
		}
		if req.WriteStream != "" {
			stream = req.WriteStream
		} else {
			req.WriteStream = stream
		}
		if rows := req.GetProtoRows(); rows != nil {
			if rows.WriterSchema != nil {
				schema = rows.WriterSchema
			} else {
				rows.WriterSchema = schema
			}
			if dates == nil {
				if dates, err = p.dateFields(down.Context(), stream); err != nil {
					return err
				}
			}
			if err := datesAsText(rows, dates); err != nil {
				return err
			}
		}
		resp, err := p.append(up, req)
		if err != nil {
			return err
		}
		if err := down.Send(resp); err != nil {
			return err
		}
	}
}

// append sends one request and waits for its answer: the emulator answers each append in order.
func (p *writeProxy) append(up storagepb.BigQueryWrite_AppendRowsClient, req *storagepb.AppendRowsRequest) (*storagepb.AppendRowsResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := up.Send(req); err != nil {
		// The emulator ended the stream; its status comes from Recv.
		if _, rerr := up.Recv(); rerr != nil && !errors.Is(rerr, io.EOF) {
			return nil, rerr
		}
		return nil, err
	}
	return up.Recv()
}

// dateFields returns the names of the DATE columns of the table stream writes to.
func (p *writeProxy) dateFields(ctx context.Context, stream string) (map[string]bool, error) {
	ws, err := p.up.GetWriteStream(ctx, &storagepb.GetWriteStreamRequest{Name: stream, View: storagepb.WriteStreamView_FULL})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, f := range ws.GetTableSchema().GetFields() {
		if f.GetType() == storagepb.TableFieldSchema_DATE {
			out[f.GetName()] = true
		}
	}
	return out, nil
}

// datesAsText rewrites rows' DATE fields (int32 days) as "YYYY-MM-DD" strings, schema included.
func datesAsText(rows *storagepb.AppendRowsRequest_ProtoData, dates map[string]bool) error {
	if len(dates) == 0 || rows.WriterSchema == nil {
		return nil
	}
	from := rows.WriterSchema.GetProtoDescriptor()
	to := proto.Clone(from).(*descriptorpb.DescriptorProto)
	changed := false
	for _, f := range to.Field {
		if dates[f.GetName()] && f.GetType() == descriptorpb.FieldDescriptorProto_TYPE_INT32 {
			f.Type = descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
			changed = true
		}
	}
	if !changed {
		return nil // already rewritten: the schema is shared by the requests of a connection
	}
	fromMD, err := messageDescriptor(from)
	if err != nil {
		return err
	}
	toMD, err := messageDescriptor(to)
	if err != nil {
		return err
	}
	for i, raw := range rows.GetRows().GetSerializedRows() {
		in := dynamicpb.NewMessage(fromMD)
		if err := proto.Unmarshal(raw, in); err != nil {
			return fmt.Errorf("decode row: %w", err)
		}
		out := dynamicpb.NewMessage(toMD)
		var convErr error
		in.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			target := toMD.Fields().ByName(fd.Name())
			if dates[string(fd.Name())] && fd.Kind() == protoreflect.Int32Kind {
				v = protoreflect.ValueOfString(time.Unix(v.Int()*86400, 0).UTC().Format(time.DateOnly))
			}
			if target == nil {
				convErr = fmt.Errorf("no field %s", fd.Name())
				return false
			}
			out.Set(target, v)
			return true
		})
		if convErr != nil {
			return convErr
		}
		b, err := proto.Marshal(out)
		if err != nil {
			return err
		}
		rows.Rows.SerializedRows[i] = b
	}
	rows.WriterSchema = &storagepb.ProtoSchema{ProtoDescriptor: to}
	return nil
}

func messageDescriptor(d *descriptorpb.DescriptorProto) (protoreflect.MessageDescriptor, error) {
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{Name: proto.String("row.proto"), MessageType: []*descriptorpb.DescriptorProto{d}}, nil)
	if err != nil {
		return nil, err
	}
	return fd.Messages().Get(0), nil
}

// Package bigquery is the production warehouse engine: BigQuery, written through the Storage Write API
// (the managed writer's default stream) and read with parameterised queries.
//
// BigQuery appends; it has no cheap per-row upsert. So a current-state table here holds every version
// of every document, and the common table expression a report reads keeps, per (tenant, id), the row
// with the highest version and event position, dropping tombstones. Redelivered versions are identical rows and vanish in
// the same step. Tables are partitioned by day on their Partition column and clustered by tenant first,
// so a report scans one tenant's blocks.
package bigquery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/bigquery/storage/managedwriter"
	"cloud.google.com/go/bigquery/storage/managedwriter/adapt"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/edugrid/edugrid/shared/warehouse"
)

// Config names the dataset. The wiring fills it from shared/config (EDUGRID_BQ_PROJECT, EDUGRID_BQ_DATASET,
// EDUGRID_BQ_LOCATION); this package reads no environment.
type Config struct {
	Project string
	Dataset string
	// Location of the dataset when Ensure creates it (default "US").
	Location string
	// Endpoint and StorageEndpoint point the engine at a BigQuery emulator instead of Google (the
	// conformance suite, internal/conformance): the REST API's base URL ("http://127.0.0.1:9050") and the
	// Storage Write API's plain-text gRPC address ("127.0.0.1:9060"). Either one set sends no credentials.
	Endpoint        string
	StorageEndpoint string
}

// Warehouse is a warehouse.Warehouse over one BigQuery dataset.
type Warehouse struct {
	cfg    Config
	client *bq.Client
	writer *managedwriter.Client
	conn   *grpc.ClientConn // to StorageEndpoint; the writer does not close a connection it was given

	mu      sync.Mutex
	streams map[string]*tableStream
}

type tableStream struct {
	stream *managedwriter.ManagedStream
	desc   protoreflect.MessageDescriptor
}

var _ warehouse.Warehouse = (*Warehouse)(nil)

// Open connects to BigQuery (credentials from the environment unless opts say otherwise). It does not
// create anything: call Ensure.
func Open(ctx context.Context, cfg Config, opts ...option.ClientOption) (*Warehouse, error) {
	queryOpts, writeOpts := opts, opts
	if cfg.Endpoint != "" {
		queryOpts = append(slices.Clone(opts), option.WithEndpoint(cfg.Endpoint), option.WithoutAuthentication())
	}
	var conn *grpc.ClientConn
	if cfg.StorageEndpoint != "" {
		var err error
		if conn, err = grpc.NewClient(cfg.StorageEndpoint, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
			return nil, fmt.Errorf("connect to bigquery storage write api at %s: %w", cfg.StorageEndpoint, err)
		}
		writeOpts = append(slices.Clone(opts), option.WithGRPCConn(conn), option.WithoutAuthentication())
	}
	client, err := bq.NewClient(ctx, cfg.Project, queryOpts...)
	if err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("connect to bigquery: %w", err)
	}
	writer, err := managedwriter.NewClient(ctx, cfg.Project, writeOpts...)
	if err != nil {
		_ = client.Close()
		closeConn(conn)
		return nil, fmt.Errorf("connect to bigquery storage write api: %w", err)
	}
	return &Warehouse{cfg: cfg, client: client, writer: writer, conn: conn, streams: map[string]*tableStream{}}, nil
}

func closeConn(c *grpc.ClientConn) {
	if c != nil {
		_ = c.Close()
	}
}

// Close closes the streams and clients.
func (w *Warehouse) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	for _, s := range w.streams {
		errs = append(errs, s.stream.Close())
	}
	w.streams = map[string]*tableStream{}
	errs = append(errs, w.writer.Close(), w.client.Close())
	if w.conn != nil {
		errs = append(errs, w.conn.Close())
	}
	return errors.Join(errs...)
}

// Stored returns the table id a logical table is kept under.
func Stored(t *warehouse.Table) string { return "wh_" + t.Name }

func fieldType(t warehouse.Type) bq.FieldType {
	switch t {
	case warehouse.String:
		return bq.StringFieldType
	case warehouse.Int:
		return bq.IntegerFieldType
	case warehouse.Float:
		return bq.FloatFieldType
	case warehouse.Bool:
		return bq.BooleanFieldType
	case warehouse.Timestamp:
		return bq.TimestampFieldType
	case warehouse.Date:
		return bq.DateFieldType
	case warehouse.JSON:
		return bq.JSONFieldType
	}
	panic(fmt.Sprintf("bigquery: no field type for %v", t))
}

// Schema returns t's BigQuery schema: the key columns are required, the rest nullable.
func Schema(t *warehouse.Table) bq.Schema {
	var s bq.Schema
	for i, c := range t.Columns {
		required := i == 0 || (t.Current && i < len(warehouse.CommonColumns)) || (t.Children && i < len(warehouse.ChildColumns))
		s = append(s, &bq.FieldSchema{Name: c.Name, Type: fieldType(c.Type), Required: required})
	}
	return s
}

// Metadata returns how t is created: daily partitions on its partition column, clustered by tenant and
// then its own clustering columns.
func Metadata(t *warehouse.Table) *bq.TableMetadata {
	cluster := []string{"tenant"}
	cluster = append(cluster, t.Cluster...)
	if len(cluster) > 4 {
		cluster = cluster[:4] // BigQuery's limit
	}
	return &bq.TableMetadata{
		Schema:           Schema(t),
		TimePartitioning: &bq.TimePartitioning{Type: bq.DayPartitioningType, Field: t.Partition},
		Clustering:       &bq.Clustering{Fields: cluster},
		Description:      "edugrid warehouse table " + t.Name,
	}
}

// Ensure implements warehouse.Warehouse: it creates the dataset and every missing table.
func (w *Warehouse) Ensure(ctx context.Context, tables []*warehouse.Table) error {
	ds := w.client.Dataset(w.cfg.Dataset)
	loc := w.cfg.Location
	if loc == "" {
		loc = "US"
	}
	if err := ds.Create(ctx, &bq.DatasetMetadata{Location: loc}); err != nil && !alreadyExists(err) {
		return fmt.Errorf("create dataset %s: %w", w.cfg.Dataset, err)
	}
	for _, t := range tables {
		if err := ds.Table(Stored(t)).Create(ctx, Metadata(t)); err != nil && !alreadyExists(err) {
			return fmt.Errorf("create warehouse table %s: %w", t.Name, err)
		}
	}
	return nil
}

func alreadyExists(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == 409
}

// Descriptor returns the protocol buffer message descriptor of t's rows, as the Storage Write API
// expects them.
func Descriptor(t *warehouse.Table) (protoreflect.MessageDescriptor, error) {
	ss, err := adapt.BQSchemaToStorageTableSchema(Schema(t))
	if err != nil {
		return nil, fmt.Errorf("storage schema of %s: %w", t.Name, err)
	}
	d, err := adapt.StorageSchemaToProto2Descriptor(ss, "root")
	if err != nil {
		return nil, fmt.Errorf("descriptor of %s: %w", t.Name, err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("descriptor of %s: not a message", t.Name)
	}
	return md, nil
}

// EncodeRow encodes one row of t as a message of desc (from Descriptor): timestamps as microseconds since
// the epoch, dates as days since the epoch, JSON as its text.
func EncodeRow(desc protoreflect.MessageDescriptor, t *warehouse.Table, r warehouse.Row) ([]byte, error) {
	if len(r) != len(t.Columns) {
		return nil, fmt.Errorf("row of %s has %d values, want %d", t.Name, len(r), len(t.Columns))
	}
	m := dynamicpb.NewMessage(desc)
	for i, c := range t.Columns {
		v := r[i]
		if v == nil {
			continue
		}
		fd := desc.Fields().ByName(protoreflect.Name(c.Name))
		if fd == nil {
			return nil, fmt.Errorf("%s: no field %s in the descriptor", t.Name, c.Name)
		}
		pv, err := protoValue(c, v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Name, err)
		}
		m.Set(fd, pv)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode row of %s: %w", t.Name, err)
	}
	return b, nil
}

func protoValue(c warehouse.Column, v any) (protoreflect.Value, error) {
	bad := fmt.Errorf("column %s (%v) cannot hold %T", c.Name, c.Type, v)
	switch c.Type {
	case warehouse.String, warehouse.JSON:
		if s, ok := v.(string); ok {
			return protoreflect.ValueOfString(s), nil
		}
	case warehouse.Int:
		switch n := v.(type) {
		case int64:
			return protoreflect.ValueOfInt64(n), nil
		case int:
			return protoreflect.ValueOfInt64(int64(n)), nil
		}
	case warehouse.Float:
		if f, ok := v.(float64); ok {
			return protoreflect.ValueOfFloat64(f), nil
		}
	case warehouse.Bool:
		if b, ok := v.(bool); ok {
			return protoreflect.ValueOfBool(b), nil
		}
	case warehouse.Timestamp:
		if t, ok := v.(time.Time); ok {
			return protoreflect.ValueOfInt64(t.UnixMicro()), nil
		}
	case warehouse.Date:
		if t, ok := v.(time.Time); ok {
			y, m, d := t.Date()
			days := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
			return protoreflect.ValueOfInt32(int32(days)), nil
		}
	}
	return protoreflect.Value{}, bad
}

func (w *Warehouse) stream(ctx context.Context, t *warehouse.Table) (*tableStream, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s, ok := w.streams[t.Name]; ok {
		return s, nil
	}
	desc, err := Descriptor(t)
	if err != nil {
		return nil, err
	}
	dp, err := adapt.NormalizeDescriptor(desc)
	if err != nil {
		return nil, fmt.Errorf("normalise descriptor of %s: %w", t.Name, err)
	}
	ms, err := w.writer.NewManagedStream(context.WithoutCancel(ctx),
		managedwriter.WithDestinationTable(managedwriter.TableParentFromParts(w.cfg.Project, w.cfg.Dataset, Stored(t))),
		managedwriter.WithType(managedwriter.DefaultStream),
		managedwriter.WithSchemaDescriptor(dp))
	if err != nil {
		return nil, fmt.Errorf("open write stream to %s: %w", t.Name, err)
	}
	s := &tableStream{stream: ms, desc: desc}
	w.streams[t.Name] = s
	return s, nil
}

// Apply implements warehouse.Warehouse: one append per table, all awaited. A failure leaves some tables
// appended; applying the batch again adds identical rows, which queries collapse.
func (w *Warehouse) Apply(ctx context.Context, b warehouse.Batch) error {
	byTable := map[*warehouse.Table][]warehouse.Row{}
	var order []*warehouse.Table
	add := func(t *warehouse.Table, r warehouse.Row) {
		if _, ok := byTable[t]; !ok {
			order = append(order, t)
		}
		byTable[t] = append(byTable[t], r)
	}
	for _, c := range b.Changes {
		add(warehouse.Changes, c.Values())
	}
	for _, u := range b.Upserts {
		add(u.Table, u.Row)
	}
	var results []*managedwriter.AppendResult
	for _, t := range order {
		s, err := w.stream(ctx, t)
		if err != nil {
			return err
		}
		data := make([][]byte, 0, len(byTable[t]))
		for _, r := range byTable[t] {
			m, err := EncodeRow(s.desc, t, r)
			if err != nil {
				return fmt.Errorf("apply batch: %w", err)
			}
			data = append(data, m)
		}
		res, err := s.stream.AppendRows(ctx, data)
		if err != nil {
			return fmt.Errorf("apply batch: append to %s: %w", t.Name, err)
		}
		results = append(results, res)
	}
	for _, res := range results {
		if _, err := res.GetResult(ctx); err != nil {
			return fmt.Errorf("apply batch: %w", err)
		}
	}
	return nil
}

// QuerySQL returns the GoogleSQL BigQuery runs for q and its parameters: one CTE per logical table with
// the newest live version of each of the tenant's documents, in front of the report's SQL. Versions are
// ordered by version, then event position (warehouse.PositionColumn); rows stored before the position
// existed hold NULL there and read as the empty position.
func QuerySQL(project, dataset string, q *warehouse.Query) (string, []bq.QueryParameter) {
	pos := warehouse.PositionColumn.Name
	var ctes []string
	for _, t := range q.Tables() {
		stored := fmt.Sprintf("`%s.%s.%s`", project, dataset, Stored(t))
		if t.Children {
			// Rows are appended per parent version: the live ones are those of the parent's newest version
			// (its marker row is deleted, so a deleted or emptied parent shows none), each once. A redelivered
			// version repeats its rows value for value, so DISTINCT keeps one; child tables hold only scalar
			// columns (TestChildTablesAreDistinctable). The newest version is found by grouped joins (the
			// highest version, then the highest position within it) rather than a window so that the
			// BigQuery emulator, whose MAX window crashes, runs the same SQL.
			ctes = append(ctes, fmt.Sprintf("%[1]s AS (SELECT DISTINCT c.* FROM %[2]s AS c JOIN ("+
				"SELECT v.parent_id, v.version AS pv, MAX(COALESCE(v.%[4]s, '')) AS pp FROM %[2]s AS v JOIN ("+
				"SELECT parent_id, MAX(version) AS mv FROM %[2]s WHERE tenant = @%[3]s GROUP BY parent_id) AS m "+
				"ON v.parent_id = m.parent_id AND v.version = m.mv WHERE v.tenant = @%[3]s GROUP BY v.parent_id, v.version) AS p "+
				"ON c.parent_id = p.parent_id AND c.version = p.pv AND COALESCE(c.%[4]s, '') = p.pp WHERE c.tenant = @%[3]s AND NOT c.deleted)",
				t.Name, stored, warehouse.TenantParam, pos))
			continue
		}
		ctes = append(ctes, fmt.Sprintf("%s AS (SELECT * EXCEPT (rn) FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY id ORDER BY version DESC, COALESCE(%s, '') DESC) AS rn "+
			"FROM %s WHERE tenant = @%s) WHERE rn = 1 AND NOT deleted)", t.Name, pos, stored, warehouse.TenantParam))
	}
	var params []bq.QueryParameter
	for _, p := range q.Params() {
		v := p.Value
		if d, ok := v.(warehouse.Day); ok {
			y, m, dd := d.Date()
			v = civilDate(y, int(m), dd)
		}
		params = append(params, bq.QueryParameter{Name: p.Name, Value: v})
	}
	return "WITH " + strings.Join(ctes, ", ") + " " + q.SQL(), params
}

// Query implements warehouse.Warehouse.
func (w *Warehouse) Query(ctx context.Context, q *warehouse.Query) ([]warehouse.Row, error) {
	sql, params := QuerySQL(w.cfg.Project, w.cfg.Dataset, q)
	bqq := w.client.Query(sql)
	bqq.Parameters = params
	it, err := bqq.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("warehouse query: %w", err)
	}
	var out []warehouse.Row
	for {
		var vals []bq.Value
		err := it.Next(&vals)
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("warehouse query: %w", err)
		}
		row := make(warehouse.Row, len(vals))
		for i, v := range vals {
			row[i] = normalise(v)
		}
		out = append(out, row)
	}
}

// OpenWarehouse opens the dataset cfg names as the warehouse.Warehouse the wiring holds (the analytics and
// ingest functions). It creates nothing: the ingest function creates the dataset and tables (Ensure) when
// it starts. A cfg without project or dataset is an error: analytics is then unconfigured.
func OpenWarehouse(ctx context.Context, cfg Config) (warehouse.Warehouse, error) {
	if cfg.Project == "" || cfg.Dataset == "" {
		return nil, errors.New("open bigquery warehouse: no project or dataset configured (set EDUGRID_BQ_PROJECT and EDUGRID_BQ_DATASET)")
	}
	w, err := Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return w, nil
}

package warehouse

import (
	"slices"
	"sync"
)

// current returns a current-state table: the common columns, then cols.
func current(name, partition string, cluster []string, cols ...Column) *Table {
	if partition == "" {
		partition = "changed_at"
	}
	return &Table{Name: name, Columns: append(slices.Clone(CommonColumns), cols...), Partition: partition, Cluster: cluster, Current: true}
}

// The current-state tables of the foundation's collections. Areas' tables are declared beside them as
// the areas land, so reports and ingest transforms share one definition.
var (
	Users = current("users", "", []string{"role"},
		Column{"role", String}, Column{"status", String}, Column{"branches", JSON}, Column{"created_at", Timestamp})
	Branches = current("branches", "", nil,
		Column{"code", String}, Column{"name", String}, Column{"active", Bool}, Column{"created_at", Timestamp})
	AuditLog = current("audit_log", "", []string{"action"},
		Column{"action", String}, Column{"actor_id", String}, Column{"actor_role", String}, Column{"target_kind", String},
		Column{"target_id", String}, Column{"recorded_at", Timestamp})
	// AttendanceSheets is one row per marked session (the attendance area keeps a session's marks in one
	// sheet document, id = session id): day is the session's calendar day in the tenant's time zone, and
	// the counts are its marks by status (late counts as attended, excused neither way).
	AttendanceSheets = current("attendance_sheets", "day", []string{"batch_id"},
		Column{"batch_id", String}, Column{"branch_id", String}, Column{"day", Date},
		Column{"present", Int}, Column{"late", Int}, Column{"absent", Int}, Column{"excused", Int})
	Batches = current("batches", "", []string{"branch_id"},
		Column{"course_id", String}, Column{"branch_id", String}, Column{"name", String}, Column{"capacity", Int})
	// FeeInstalments is one row per instalment (functions/fees): amounts in minor units, due_date the
	// tenant-local due day; outstanding = amount + late_fee - paid - waived, status open or settled.
	FeeInstalments = current("fee_instalments", "due_date", []string{"branch_id"},
		Column{"student_id", String}, Column{"batch_id", String}, Column{"branch_id", String}, Column{"due_date", Date},
		Column{"currency", String}, Column{"amount", Int}, Column{"late_fee", Int}, Column{"paid", Int}, Column{"waived", Int},
		Column{"outstanding", Int}, Column{"status", String})
	// FeePayments is one row per receipt: paid_on is the tenant-local day the money came in, refunded
	// what has been returned of it since.
	FeePayments = current("fee_payments", "paid_on", []string{"branch_id"},
		Column{"student_id", String}, Column{"branch_id", String}, Column{"paid_on", Date}, Column{"currency", String},
		Column{"amount", Int}, Column{"refunded", Int}, Column{"method", String})
	// Enrolments is one row per enrolment (functions/students): from_date and to_date are the tenant-local
	// first day and the day it stopped covering (null while open); status active, transferred or withdrawn.
	Enrolments = current("enrolments", "from_date", []string{"branch_id"},
		Column{"student_id", String}, Column{"batch_id", String}, Column{"branch_id", String}, Column{"course_id", String},
		Column{"from_date", Date}, Column{"to_date", Date}, Column{"status", String})
)

var (
	registryMu sync.Mutex
	registry   = []*Table{Changes, Users, Branches, AuditLog, AttendanceSheets, Batches, FeeInstalments, FeePayments, Enrolments}
)

// Tables returns every table the warehouse holds, for engines to create.
func Tables() []*Table {
	registryMu.Lock()
	defer registryMu.Unlock()
	return slices.Clone(registry)
}

// ByName returns the table with logical name n, or nil.
func ByName(n string) *Table {
	registryMu.Lock()
	defer registryMu.Unlock()
	for _, t := range registry {
		if t.Name == n {
			return t
		}
	}
	return nil
}

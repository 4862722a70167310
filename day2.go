// Package day2 holds the domain model of day2, the AgentOps control plane: tasks
// assembled from agent telemetry, and the interfaces the adapters (storage, OTLP,
// HTTP) implement or consume. It performs no I/O.
package day2

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"
)

// TraceID identifies a trace, and therefore a task: one trace is one task.
type TraceID [16]byte

// String returns the lowercase hex form used in the API.
func (t TraceID) String() string { return hex.EncodeToString(t[:]) }

// IsZero reports whether t is the invalid all-zero trace id.
func (t TraceID) IsZero() bool { return t == TraceID{} }

// ParseTraceID parses a 32-character hex trace id (case-insensitive).
func ParseTraceID(s string) (TraceID, error) {
	var t TraceID
	if len(s) != 32 {
		return t, Errorf(EInvalid, "task id %q is not 32 hex characters; task ids are OpenTelemetry trace ids", s)
	}
	if _, err := hex.Decode(t[:], []byte(s)); err != nil {
		return t, Errorf(EInvalid, "task id %q is not hex; task ids are OpenTelemetry trace ids", s)
	}
	return t, nil
}

// SpanID identifies a span within a trace.
type SpanID [8]byte

// String returns the lowercase hex form, or "" for the zero id.
func (s SpanID) String() string {
	if s.IsZero() {
		return ""
	}
	return hex.EncodeToString(s[:])
}

// IsZero reports whether s is the all-zero (absent) span id.
func (s SpanID) IsZero() bool { return s == SpanID{} }

// SpanKind mirrors the OTLP span kind enumeration.
type SpanKind int8

// Span kinds, numbered as in OTLP.
const (
	SpanKindUnspecified SpanKind = 0
	SpanKindInternal    SpanKind = 1
	SpanKindServer      SpanKind = 2
	SpanKindClient      SpanKind = 3
	SpanKindProducer    SpanKind = 4
	SpanKindConsumer    SpanKind = 5
)

// StatusCode mirrors the OTLP span status code.
type StatusCode int8

// Span status codes, numbered as in OTLP.
const (
	StatusUnset StatusCode = 0
	StatusOK    StatusCode = 1
	StatusError StatusCode = 2
)

// Resource is the set of attributes describing the entity that produced telemetry
// (service.name, deployment.environment.name, ...). Spans of one OTLP resource share
// one *Resource.
type Resource struct {
	Attrs Attrs
}

// Span is one OpenTelemetry span as day2 keeps it. Times are Unix nanoseconds.
type Span struct {
	TraceID       TraceID
	SpanID        SpanID
	ParentSpanID  SpanID
	Name          string
	Kind          SpanKind
	Start         int64
	End           int64
	StatusCode    StatusCode
	StatusMessage string
	Scope         string
	Attrs         Attrs
	Events        []Event
	Resource      *Resource
}

// Event is a span event (for example the seed's terminal "outcome" event).
type Event struct {
	Name  string
	Time  int64
	Attrs Attrs
}

// LogRecord is one OpenTelemetry log record that belongs to a trace. ID is a
// content hash that makes redelivered records idempotent, since OTLP log records
// carry no identity of their own.
type LogRecord struct {
	ID           uint64
	TraceID      TraceID
	SpanID       SpanID
	Time         int64
	EventName    string
	SeverityText string
	Body         string
	Attrs        Attrs
	Resource     *Resource
}

// TaskData is the raw telemetry of one task: its spans and log records.
type TaskData struct {
	TraceID TraceID
	Spans   []Span
	Logs    []LogRecord
}

// Task is one run of an agent's business process, summarised from its telemetry.
// Success and Escalated are nil until an outcome has arrived.
type Task struct {
	TaskID          string `json:"task_id"`
	Service         string `json:"service"`
	Environment     string `json:"environment"`
	Version         string `json:"version"`
	BusinessProcess string `json:"business_process"`
	RiskTier        string `json:"risk_tier"`
	FlowRunID       string `json:"flow_run_id"`
	Tenant          string `json:"tenant"`
	// Arm is the rollout arm the task ran in ("baseline", "candidate",
	// "shadow"), from the root attribute day2.arm; "" when not in a rollout.
	// Shadow tasks are compared by the canary judge but never count in SLOs.
	Arm           string    `json:"arm,omitempty"`
	StartTime     time.Time `json:"start_time"`
	EndTime       time.Time `json:"end_time"`
	CycleTimeMS   *int64    `json:"cycle_time_ms"`
	Success       *bool     `json:"success"`
	Escalated     *bool     `json:"escalated"`
	ReasonCode    string    `json:"reason_code"`
	OutcomeTime   time.Time `json:"outcome_time,omitzero"`
	LLMCalls      int       `json:"llm_calls"`
	ToolCalls     int       `json:"tool_calls"`
	ToolFailures  int       `json:"tool_failures"`
	ToolRetries   int       `json:"tool_retries"`
	InputTokens   int64     `json:"input_tokens"`
	OutputTokens  int64     `json:"output_tokens"`
	SafetyBlocks  int       `json:"safety_blocks"`
	RateLimitHits int       `json:"rate_limit_hits"`
	Spans         int       `json:"span_count"`
	RootSeen      bool      `json:"root_seen"`
}

// TaskFilter selects tasks for listing. Zero fields do not filter. Since is
// inclusive and Until exclusive, both on the task's start time.
type TaskFilter struct {
	Service     string
	Environment string
	Version     string
	Since       time.Time
	Until       time.Time
	Limit       int
	Cursor      string
}

// TaskPage is one page of tasks, newest first. NextCursor is empty on the last page.
type TaskPage struct {
	Tasks      []Task
	NextCursor string
}

// TaskDetail is a task with its raw telemetry. RawPurged is true when retention has
// removed the spans and only the summary is left.
type TaskDetail struct {
	Task      Task
	Data      TaskData
	RawPurged bool
}

// ServiceSummary describes a service seen in telemetry.
type ServiceSummary struct {
	Service      string           `json:"service"`
	Environments []string         `json:"environments"`
	Versions     []VersionSummary `json:"versions"`
	TaskCount    int64            `json:"task_count"`
	FirstSeen    time.Time        `json:"first_seen"`
	LastSeen     time.Time        `json:"last_seen"`
}

// VersionSummary counts a service's tasks by environment and version.
type VersionSummary struct {
	Environment string    `json:"environment"`
	Version     string    `json:"version"`
	TaskCount   int64     `json:"task_count"`
	LastSeen    time.Time `json:"last_seen"`
}

// CommitResult reports what a commit added. Duplicates are telemetry that was
// already stored (an exporter retry) and was therefore not counted again.
type CommitResult struct {
	Spans          int
	DuplicateSpans int
	Logs           int
	DuplicateLogs  int
	TasksCreated   int
	TasksUpdated   int
}

// Add accumulates r2 into r.
func (r *CommitResult) Add(r2 CommitResult) {
	r.Spans += r2.Spans
	r.DuplicateSpans += r2.DuplicateSpans
	r.Logs += r2.Logs
	r.DuplicateLogs += r2.DuplicateLogs
	r.TasksCreated += r2.TasksCreated
	r.TasksUpdated += r2.TasksUpdated
}

// TaskStore keeps tasks and their raw telemetry durably. Implementations: package
// sqlite (embedded default) and package postgres; package storetest holds the
// conformance suite both pass.
type TaskStore interface {
	// CommitTasks merges the batch into the stored tasks in one transaction and
	// returns only once it is durable. Telemetry already stored (same trace and
	// span id, or same log record) is ignored, so redelivery is idempotent. Entries
	// of the batch may share a trace id.
	CommitTasks(ctx context.Context, batch []TaskData) (CommitResult, error)
	// ListTasks returns tasks newest first (by start time, then task id).
	ListTasks(ctx context.Context, f TaskFilter) (TaskPage, error)
	// GetTask returns one task with its raw telemetry, or an ENotFound error.
	GetTask(ctx context.Context, id TraceID) (TaskDetail, error)
	// ListServices returns every service seen, sorted by name.
	ListServices(ctx context.Context) ([]ServiceSummary, error)
	// PurgeRawBefore drops the raw spans and logs of tasks that ended before t,
	// keeping their summaries, and returns how many tasks were purged.
	PurgeRawBefore(ctx context.Context, t time.Time) (int64, error)
	// Ping reports whether the store is usable.
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error
}

// UnixNano converts OTLP nanoseconds to a UTC time; 0 gives the zero time.
func UnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// String implements fmt.Stringer for debugging.
func (s Span) String() string {
	return fmt.Sprintf("span %s/%s %q", s.TraceID, s.SpanID, s.Name)
}

// Store is everything day2 persists: tasks, the SLO rollups kept with them, and
// the control plane's own state.
type Store interface {
	TaskStore
	RollupStore
	StateStore
	RecordStore
}

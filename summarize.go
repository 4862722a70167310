package day2

// MergeTaskData adds the spans and log records of src to dst, skipping those dst
// already holds (same span id; same log record id), and reports how many were added
// and how many were duplicates. Within src, later duplicates are skipped too.
func MergeTaskData(dst *TaskData, src *TaskData) (r CommitResult) {
	if dst.TraceID.IsZero() {
		dst.TraceID = src.TraceID
	}
	if len(src.Spans) > 0 {
		seen := make(map[SpanID]struct{}, len(dst.Spans)+len(src.Spans))
		for i := range dst.Spans {
			seen[dst.Spans[i].SpanID] = struct{}{}
		}
		for i := range src.Spans {
			id := src.Spans[i].SpanID
			if _, dup := seen[id]; dup {
				r.DuplicateSpans++
				continue
			}
			seen[id] = struct{}{}
			dst.Spans = append(dst.Spans, src.Spans[i])
			r.Spans++
		}
	}
	if len(src.Logs) > 0 {
		seen := make(map[uint64]struct{}, len(dst.Logs)+len(src.Logs))
		for i := range dst.Logs {
			seen[dst.Logs[i].ID] = struct{}{}
		}
		for i := range src.Logs {
			id := src.Logs[i].ID
			if _, dup := seen[id]; dup {
				r.DuplicateLogs++
				continue
			}
			seen[id] = struct{}{}
			dst.Logs = append(dst.Logs, src.Logs[i])
			r.Logs++
		}
	}
	return r
}

package pyrt

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// WithLogger: Python's logging records and warnings arrive as slog records
// (in a child process: the bridge changes the interpreter's root logger).
func TestWithLogger(t *testing.T) { runChild(t, "slog") }

func childSlog(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rt, err := New(WithLogger(l))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	err = rt.Run(bg, `
import logging, threading, warnings
log = logging.getLogger("app.db")
log.debug("not enabled in slog: dropped")
log.info("connected to %s", "db1")
log.error("query failed")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("division")
warnings.warn("old API", DeprecationWarning)
t = threading.Thread(target=lambda: logging.getLogger("worker").warning("from a thread"))
t.start(); t.join()
`)
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		recs = append(recs, m)
	}
	want := []struct{ level, msg, logger string }{
		{"INFO", "connected to db1", "app.db"},
		{"ERROR", "query failed", "app.db"},
		{"ERROR", "division", "app.db"},
		{"WARN", "old API", "py.warnings"},
		{"WARN", "from a thread", "worker"},
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d:\n%s", len(recs), len(want), buf.String())
	}
	for i, w := range want {
		r := recs[i]
		if r["level"] != w.level || !strings.Contains(r["msg"].(string), w.msg) || r["logger"] != w.logger {
			t.Errorf("record %d = %v, want %+v", i, r, w)
		}
	}
	if exc, _ := recs[2]["exception"].(string); !strings.Contains(exc, "ZeroDivisionError") {
		t.Errorf("the exception's traceback is missing: %v", recs[2])
	}
}

package pyrt

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
)

// WithLogger routes Python's logging records (the root logger's, so every
// library's) and its warnings (warnings.warn, through logging.captureWarnings)
// to l. Python's levels map to slog's: DEBUG to Debug, INFO to Info, WARNING
// to Warn, ERROR and CRITICAL to Error (CRITICAL as Error+4); each record
// carries the attributes "logger" (the Python logger's name), "file" and
// "line", and "exception" (the formatted traceback) when it has one. The
// root logger's level is set to the lowest level l is enabled for, so Python
// code does not format records slog would drop; a library's own logger level
// still applies. Records of Python threads that run while no call is made
// are delivered too (on those threads).
//
//	rt, err := pyrt.New(pyrt.WithLogger(slog.Default()))
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// logBridge is the Python side of WithLogger: a logging.Handler calling the
// host function registered as <module>.emit.
const logBridge = `
def _install(module_name, level):
    import importlib, logging
    emit = importlib.import_module(module_name).emit
    class PyrtSlogHandler(logging.Handler):
        def emit(self, record):
            try:
                exc = self.formatter.formatException(record.exc_info) if record.exc_info else None
            except Exception:
                exc = None
            try:
                emit(record.levelno, record.name, record.getMessage(), record.pathname, record.lineno, exc)
            except RuntimeError:
                # The runtime that registered the host function was closed.
                logging.getLogger().removeHandler(self)
            except Exception:
                self.handleError(record)
    handler = PyrtSlogHandler()
    handler.setFormatter(logging.Formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
_install(%s, %d)
del _install
`

// installLogger registers the host function and installs the handler.
func (r *Runtime) installLogger(l *slog.Logger) error {
	ctx := context.Background()
	module := "_pyrt_slog_" + strconv.FormatUint(uint64(r.handle), 10)
	err := r.Register(module, "emit", func(ctx context.Context, args []any, _ map[string]any) (any, error) {
		if len(args) != 6 {
			return nil, fmt.Errorf("emit takes 6 arguments, got %d", len(args))
		}
		levelno, _ := args[0].(int64)
		msg, _ := args[2].(string)
		attrs := []any{"logger", args[1], "file", args[3], "line", args[4]}
		if exc, ok := args[5].(string); ok && exc != "" {
			attrs = append(attrs, "exception", exc)
		}
		l.Log(ctx, slogLevel(levelno), msg, attrs...)
		return nil, nil
	})
	if err != nil {
		return err
	}
	level := 50 // CRITICAL: l is enabled for less than that, or Python logs nothing
	for _, c := range []struct {
		slog slog.Level
		py   int
	}{{slog.LevelDebug, 10}, {slog.LevelInfo, 20}, {slog.LevelWarn, 30}, {slog.LevelError, 40}} {
		if l.Enabled(ctx, c.slog) {
			level = c.py
			break
		}
	}
	return r.Run(ctx, fmt.Sprintf(logBridge, strconv.Quote(module), level))
}

// slogLevel maps a Python logging level number to slog's scale.
func slogLevel(levelno int64) slog.Level {
	switch {
	case levelno >= 50:
		return slog.LevelError + 4
	case levelno >= 40:
		return slog.LevelError
	case levelno >= 30:
		return slog.LevelWarn
	case levelno >= 20:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}

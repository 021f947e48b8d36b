package pyrtprom_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
	"github.com/pyrt-dev/pyrt/bindings/go/pyrtprom"
)

// The collector registered, served by promhttp on 127.0.0.1 and scraped over HTTP.
func TestScrapeOverHTTP(t *testing.T) {
	ctx := context.Background()
	rt, err := pyrt.New()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	for i := 0; i < 10; i++ {
		if _, err := rt.Call(ctx, "math", "sqrt", 16.0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rt.Call(ctx, "builtins", "int", "x"); err == nil {
		t.Fatal("int('x') succeeded")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(pyrtprom.NewCollector(rt, pyrtprom.Labels(prometheus.Labels{"runtime": "main"})))
	reg.MustRegister(pyrtprom.NewCollector(rt, pyrtprom.Process(), pyrtprom.Labels(prometheus.Labels{"runtime": "process"})))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	go srv.Serve(ln)
	defer srv.Close()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	t.Logf("scrape:\n%s", text)
	for _, want := range []string{
		`pyrt_calls_started_total{runtime="main"} 11`,
		`pyrt_calls_failed_total{runtime="main"} 1`,
		`pyrt_exceptions_total{runtime="main",type="ValueError"} 1`,
		`pyrt_call_duration_seconds_bucket{runtime="main",le="1e-06"}`,
		`pyrt_call_duration_seconds_bucket{runtime="main",le="+Inf"}`,
		`pyrt_call_duration_seconds_count{runtime="main"}`,
		`pyrt_calls_in_flight{runtime="main"} 0`,
		`pyrt_wait_seconds_total{runtime="main"}`,
		`pyrt_run_seconds_total{runtime="main"}`,
		`pyrt_objects{runtime="main"}`,
		`pyrt_host_callbacks_total{runtime="main"} 0`,
		`pyrt_interrupts_total{runtime="process"}`,
		`pyrt_timeouts_total{runtime="process"}`,
		`pyrt_worker_calls_total{runtime="main"} 0`,
		`# TYPE pyrt_call_duration_seconds histogram`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the scrape lacks %q", want)
		}
	}
}

module github.com/pyrt-dev/pyrt/bench/go

go 1.25.0

require github.com/pyrt-dev/pyrt/bindings/go v0.0.0

require github.com/ebitengine/purego v0.11.3 // indirect

replace github.com/pyrt-dev/pyrt/bindings/go => ../../bindings/go

package pyrt

import (
	"fmt"
	"time"
)

// ISO 8601 text as Python's isoformat() writes it and fromisoformat() reads it: the forms
// the tagged encoding uses for dates, times and datetimes.

func isoErr(kind, s string) error {
	return &Error{Code: CodeConversion, Message: fmt.Sprintf("cannot read %s %q", kind, s)}
}

// digits reads n decimal digits of s at i.
func digits(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func parseDate(s string) (Date, error) {
	y, ok1 := digits(s, 0, 4)
	m, ok2 := digits(s, 5, 2)
	d, ok3 := digits(s, 8, 2)
	if !ok1 || !ok2 || !ok3 || len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return Date{}, isoErr("date", s)
	}
	return Date{y, time.Month(m), d}, nil
}

// parseClock reads "HH:MM:SS[.ffffff][+HH:MM[:SS[.ffffff]]]" (isoformat of a
// time, and the time part of a datetime).
func parseClock(s string) (t TimeOfDay, ok bool) {
	var ok1, ok2, ok3 bool
	t.Hour, ok1 = digits(s, 0, 2)
	t.Minute, ok2 = digits(s, 3, 2)
	t.Second, ok3 = digits(s, 6, 2)
	if !ok1 || !ok2 || !ok3 || len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return t, false
	}
	i := 8
	if i < len(s) && s[i] == '.' {
		var ok bool
		if t.Microsecond, ok = digits(s, i+1, 6); !ok {
			return t, false
		}
		i += 7
	}
	if i == len(s) {
		return t, true
	}
	if s[i] != '+' && s[i] != '-' {
		return t, false
	}
	sign := 1
	if s[i] == '-' {
		sign = -1
	}
	oh, ok1 := digits(s, i+1, 2)
	om, ok2 := digits(s, i+4, 2)
	if !ok1 || !ok2 || len(s) < i+6 || s[i+3] != ':' {
		return t, false
	}
	off := oh*3600 + om*60
	i += 6
	if i < len(s) {
		// Seconds in the offset; a fraction of a second cannot be a Go zone.
		os, ok := digits(s, i+1, 2)
		if !ok || s[i] != ':' || len(s) != i+3 {
			return t, false
		}
		off += os
	}
	t.Aware, t.Offset = true, sign*off
	return t, true
}

func parseTimeOfDay(s string) (TimeOfDay, error) {
	t, ok := parseClock(s)
	if !ok {
		return t, isoErr("time", s)
	}
	return t, nil
}

// parseDateTime reads a Python datetime.isoformat() string into a
// time.Time: an aware datetime gets a fixed zone with its UTC offset (UTC
// itself for +00:00), a naive one the location Naive.
func parseDateTime(s string) (time.Time, error) {
	if len(s) < 19 || s[10] != 'T' {
		return time.Time{}, isoErr("datetime", s)
	}
	d, err := parseDate(s[:10])
	if err != nil {
		return time.Time{}, isoErr("datetime", s)
	}
	c, ok := parseClock(s[11:])
	if !ok {
		return time.Time{}, isoErr("datetime", s)
	}
	loc := Naive
	if c.Aware {
		loc = zoneFor(c.Offset)
	}
	return time.Date(d.Year, d.Month, d.Day, c.Hour, c.Minute, c.Second, c.Microsecond*1000, loc), nil
}

func zoneFor(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	return time.FixedZone("", off)
}

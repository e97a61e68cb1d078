package num

import (
	"encoding/json"
	"math"
	"testing"
)

// TestNumberJSON checks that unknown and overflowing numbers marshal to
// null and read back as unknown.
func TestNumberJSON(t *testing.T) {
	b, err := json.Marshal([]Number{1.5, Unknown, Number(math.Inf(1)), 1e300})
	if err != nil || string(b) != "[1.5,null,null,1e+300]" {
		t.Fatalf("got %s, %v", b, err)
	}
	var back []Number
	if err := json.Unmarshal(b, &back); err != nil || back[0] != 1.5 || back[1].Known() || back[3] != 1e300 {
		t.Errorf("round trip: %v, %v", back, err)
	}
}

// TestLogArithmetic checks LogAdd, LogSub and FromLn against direct
// evaluation where it does not overflow, and for values beyond float64.
func TestLogArithmetic(t *testing.T) {
	for _, c := range [][2]float64{{0, 0}, {1, -3}, {-2, 5}, {700, 699}} {
		a, b := c[0], c[1]
		if got, want := LogAdd(a, b), math.Log(math.Exp(a)+math.Exp(b)); math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
			t.Errorf("LogAdd(%v, %v) = %v, want %v", a, b, got, want)
		}
		hi, lo := math.Max(a, b), math.Min(a, b)
		if hi == lo {
			continue
		}
		if got, want := LogSub(hi, lo), math.Log(math.Exp(hi)-math.Exp(lo)); math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
			t.Errorf("LogSub(%v, %v) = %v, want %v", hi, lo, got, want)
		}
	}
	if got := LogAdd(2000, 2000); math.Abs(got-(2000+math.Ln2)) > 1e-12 {
		t.Errorf("LogAdd(2000, 2000) = %v, want 2000 + ln 2", got)
	}
	if got := LogAdd(3, math.Inf(-1)); got != 3 {
		t.Errorf("LogAdd(3, -Inf) = %v, want 3", got)
	}
	if v, l := FromLn(2000); !math.IsInf(float64(v), 1) || math.Abs(float64(l)-2000/math.Ln10) > 1e-9 {
		t.Errorf("FromLn(2000) = %v, %v: want +Inf and a finite log10", v, l)
	}
	if v, l := FromLn(math.NaN()); v.Known() || l.Known() {
		t.Errorf("FromLn(NaN) = %v, %v: want two unknowns", v, l)
	}
}

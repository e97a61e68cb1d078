package reproduce

import "math"

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// nan is the float64 NaN, for cells without a value.
var nan = math.NaN()

package weightinit

import (
	"math"
	"math/bits"
)

// Stream is a random stream: math/rand/v2's PCG generator (128-bit LCG
// state, DXSM output), the same state and the same outputs, bit for bit
// (the tests check it). It is defined here so that the hot loop of
// Sampler.Fill can keep the state in two registers: going through a
// *rand.PCG stores and reloads it for every draw, which puts a memory round
// trip on the generator's dependency chain, and a *rand.Rand adds an
// interface call. Every draw equals the one math/rand/v2 makes from
// rand.New(rand.NewPCG(seed1, seed2)): the distributions are the standard
// library's, only faster. Every weight initialized anywhere in initscope
// (Monte Carlo and training) is drawn through a Stream.
type Stream struct{ hi, lo uint64 }

// NewStream returns the stream that rand.NewPCG(seed1, seed2) starts.
func NewStream(seed1, seed2 uint64) *Stream { return &Stream{seed1, seed2} }

// Seed sets the state as rand.NewPCG(seed1, seed2) does.
func (p *Stream) Seed(seed1, seed2 uint64) { p.hi, p.lo = seed1, seed2 }

// next returns the advanced generator and its output, as (*rand.PCG).Uint64.
func (p Stream) next() (Stream, uint64) {
	const (
		mulHi = 2549297995355413924
		mulLo = 4865540595714422341
		incHi = 6364136223846793005
		incLo = 1442695040888963407
	)
	hi, lo := bits.Mul64(p.lo, mulLo)
	hi += p.hi*mulLo + p.lo*mulHi
	lo, c := bits.Add64(lo, incLo, 0)
	hi, _ = bits.Add64(hi, incHi, c)
	p.lo, p.hi = lo, hi
	// DXSM output.
	const cheapMul = 0xda942042e4dd58b5
	hi ^= hi >> 32
	hi *= cheapMul
	hi ^= hi >> 48
	hi *= lo | 1
	return p, hi
}

// Uint64 draws 64 random bits, as rand.Rand.Uint64 does.
func (p *Stream) Uint64() uint64 {
	var u uint64
	*p, u = p.next()
	return u
}

// zigR is the start of the ziggurat's tail (Marsaglia & Tsang 2000, 128 strips).
const zigR = 3.442619855899

// zigK, zigW and zigF are the ziggurat tables of math/rand/v2's NormFloat64,
// computed as Marsaglia and Tsang's setup does.
var (
	zigK [128]uint32
	zigW [128]float32
	zigF [128]float32
)

// squeeze bounds the density f(x) = exp(-x^2/2) on the wedge of one strip
// by two lines in |x|: lo0 + lo1 |x| <= f <= hi0 + hi1 |x|. Where f is
// convex (|x| >= 1) the chord is above it and a tangent below; where it is
// concave (|x| <= 1), the other way round. The wedge test then needs
// math.Exp only when the uniform height falls between the two lines; the
// decisions, and so the draws, stay exactly those of NormFloat64.
type squeeze struct {
	lo0, lo1, hi0, hi1 float64
	ok                 bool // false on the strip that straddles |x| = 1
}

// zigSqueeze holds the squeeze of every strip but the base strip 0.
var zigSqueeze [128]squeeze

// squeezeMargin covers the rounding of the bounds and of math.Exp, which
// are within 1e-15 of the true values here (f >= 0.0026 on the wedges).
const squeezeMargin = 1e-12

// init computes the ziggurat tables and the squeezes.
func init() {
	const m1 = 1 << 31
	const vn = 9.91256303526217e-3 // area of each strip
	dn := zigR
	tn := dn
	q := vn / math.Exp(-.5*dn*dn)
	zigK[0] = uint32(dn / q * m1)
	zigK[1] = 0
	zigW[0] = float32(q / m1)
	zigW[127] = float32(dn / m1)
	zigF[0] = 1
	zigF[127] = float32(math.Exp(-.5 * dn * dn))
	for i := 126; i >= 1; i-- {
		dn = math.Sqrt(-2 * math.Log(vn/dn+math.Exp(-.5*dn*dn)))
		zigK[i+1] = uint32(dn / tn * m1)
		tn = dn
		zigF[i] = float32(math.Exp(-.5 * dn * dn))
		zigW[i] = float32(dn / m1)
	}
	f := func(x float64) float64 { return math.Exp(-.5 * x * x) }
	for i := 1; i < 128; i++ {
		// The wedge of strip i is kn[i] <= |j| < 2^31, |x| = |j| wn[i].
		a, b := float64(zigK[i])*float64(zigW[i]), m1*float64(zigW[i])
		slope := (f(b) - f(a)) / (b - a)
		chord0 := f(a) - slope*a
		// The tangent at the middle of the wedge.
		c := (a + b) / 2
		tan1 := -c * f(c)
		tan0 := f(c) - tan1*c
		switch {
		case a >= 1:
			zigSqueeze[i] = squeeze{lo0: tan0, lo1: tan1, hi0: chord0, hi1: slope, ok: true}
		case b <= 1:
			zigSqueeze[i] = squeeze{lo0: chord0, lo1: slope, hi0: tan0, hi1: tan1, ok: true}
		}
	}
}

// Float64 returns a float64 in [0, 1), as rand.Rand.Float64 does.
func (p *Stream) Float64() float64 { return float64(p.Uint64()<<11>>11) / (1 << 53) }

// Normal returns a standard normal draw, as rand.Rand.NormFloat64 does.
func (p *Stream) Normal() float64 {
	u := p.Uint64()
	j := int32(u)
	i := u >> 32 & 0x7F
	x := float64(j) * float64(zigW[i])
	if absInt32(j) < zigK[i] {
		return x // 97% of draws end here
	}
	return normalSlow(p, j, i, x)
}

// normalSlow finishes a ziggurat draw that fell outside the rectangles.
func normalSlow(p *Stream, j int32, i uint64, x float64) float64 {
	for {
		if i == 0 {
			for {
				x = -math.Log(p.Float64()) * (1.0 / zigR)
				y := -math.Log(p.Float64())
				if y+y >= x*x {
					break
				}
			}
			if j > 0 {
				return zigR + x
			}
			return -zigR - x
		}
		y := zigF[i] + float32(p.Float64())*(zigF[i-1]-zigF[i])
		sq := &zigSqueeze[i]
		ax := math.Abs(x)
		switch {
		case sq.ok && y < float32(sq.lo0+sq.lo1*ax-squeezeMargin):
			return x // below the lower line, so below f
		case sq.ok && y >= float32(sq.hi0+sq.hi1*ax+squeezeMargin):
			// above the upper line, so above f: draw again
		case y < float32(math.Exp(-.5*x*x)):
			return x
		}
		u := p.Uint64()
		j = int32(u)
		i = u >> 32 & 0x7F
		x = float64(j) * float64(zigW[i])
		if absInt32(j) < zigK[i] {
			return x
		}
	}
}

// absInt32 is |i|, as math/rand/v2 computes it.
func absInt32(i int32) uint32 {
	if i < 0 {
		return uint32(-i)
	}
	return uint32(i)
}

// Sampler draws from one law at one layer's fans (Law.Sampler) or from a
// family at a given variance (Family.NewSampler). It dispatches on the
// family once per Fill, not once per value.
type Sampler struct {
	family Family
	scale  float64
}

// NewSampler returns a sampler for family f with nominal variance v >= 0.
func (f Family) NewSampler(v float64) Sampler {
	s := math.Sqrt(v)
	switch f {
	case Uniform:
		s = math.Sqrt(3 * v)
	case TruncNormalCorrected:
		s = math.Sqrt(v / truncVar)
	}
	return Sampler{family: f, scale: s}
}

// Rand draws one value from the stream p, in float64; Fill draws the
// same values rounded to float32.
func (s Sampler) Rand(p *Stream) float64 {
	switch s.family {
	case Normal:
		return s.scale * p.Normal()
	case Uniform:
		return s.scale * (2*p.Float64() - 1)
	case TruncNormal, TruncNormalCorrected:
		for {
			if z := p.Normal(); z >= -2 && z <= 2 {
				return s.scale * z
			}
		}
	case Rademacher:
		if p.Uint64()&1 == 0 {
			return -s.scale
		}
		return s.scale
	}
	return 0
}

// Fill writes independent draws into dst, in order, from the stream p.
func (s Sampler) Fill(p *Stream, dst []float32) {
	sc := s.scale
	switch s.family {
	case Normal:
		// Normal, inlined by hand with the state in a local whose address
		// is never taken, so that it stays in registers.
		q := *p
		for k := range dst {
			var u uint64
			q, u = q.next()
			j := int32(u)
			i := u >> 32 & 0x7F
			x := float64(j) * float64(zigW[i])
			if absInt32(j) >= zigK[i] {
				*p = q
				x = normalSlow(p, j, i, x)
				q = *p
			}
			dst[k] = float32(sc * x)
		}
		*p = q
	case Uniform:
		for k := range dst {
			dst[k] = float32(sc * (2*p.Float64() - 1))
		}
	case TruncNormal, TruncNormalCorrected:
		for k := range dst {
			z := p.Normal()
			for z < -2 || z > 2 {
				z = p.Normal()
			}
			dst[k] = float32(sc * z)
		}
	case Rademacher:
		for k := range dst {
			dst[k] = float32(sc)
			if p.Uint64()&1 == 0 {
				dst[k] = float32(-sc)
			}
		}
	default:
		clear(dst)
	}
}

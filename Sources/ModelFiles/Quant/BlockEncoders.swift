/// The block formats medtune also writes, each encoding one block exactly as llama.cpp's reference
/// quantizer does (ggml-quants.c `quantize_row_*_ref`, which `llama-quantize` runs when no
/// importance matrix is given): the same float operations in the same order, each rounded to
/// float32 (ggml-base is built for baseline x86-64, which has no fused multiply-add, and Swift
/// fuses nothing it is not told to), the same integer conversions and the same f16 rounding.
/// Encoded bytes therefore equal the reference's bit for bit (Tests/Golden/ModelFiles/gguf_quantizers.json).
protocol EncodableBlockFormat: BlockFormat {
    /// Writes the block of `blockSize` values at `x` to the `blockBytes` bytes at `block`.
    static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer)
}

/// ggml's `nearest_int`: round to nearest, ties to even, by adding 1.5·2²³ and reading the low
/// mantissa bits. Meant for |v| < 2²²; larger values give the same wrapped bits as the C code.
@inline(__always)
private func nearestInt(_ v: Float) -> Int32 {
    (Int32(bitPattern: (v + 12_582_912).bitPattern) & 0x007F_FFFF) &- 0x0040_0000
}

/// C's conversion of a float to `int8_t` as x86-64 performs it: truncation to a 32-bit integer
/// (cvttss2si, which gives INT32_MIN for NaN and out-of-range values) keeping the low byte, so a
/// block with a subnormal maximum (whose reciprocal overflows) encodes as the reference's does
/// instead of trapping.
@inline(__always)
private func truncatedInt8(_ v: Float) -> Int8 {
    let wide: Int32 = v.isNaN || !(v > -2_147_483_904 && v < 2_147_483_648) ? Int32.min : Int32(v)
    return Int8(truncatingIfNeeded: wide)
}

@inline(__always)
private func storeHalf(_ value: Float, _ block: UnsafeMutableRawPointer, _ offset: Int) {
    block.storeBytes(of: HalfFloat.half(from: value).littleEndian, toByteOffset: offset, as: UInt16.self)
}

@inline(__always)
private func halfRounded(_ value: Float) -> Float { HalfFloat.float(fromHalf: HalfFloat.half(from: value)) }

/// The element of largest magnitude (the first of equals) and its magnitude, as Q4_0 and Q5_0
/// choose their signed scale.
@inline(__always)
private func signedAbsoluteMax(_ x: UnsafePointer<Float>, _ n: Int) -> (max: Float, amax: Float) {
    var amax: Float = 0, max: Float = 0
    for j in 0..<n where amax < abs(x[j]) {
        amax = abs(x[j]); max = x[j]
    }
    return (max, amax)
}

extension Q4_0: EncodableBlockFormat {
    static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        let d = signedAbsoluteMax(x, 32).max / -8
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, block, 0)
        for j in 0..<16 {
            let low = UInt8(truncatingIfNeeded: min(15, Int32(truncatedInt8(x[j] * id + 8.5))))
            let high = UInt8(truncatingIfNeeded: min(15, Int32(truncatedInt8(x[16 + j] * id + 8.5))))
            block.storeBytes(of: low | (high << 4), toByteOffset: 2 + j, as: UInt8.self)
        }
    }
}

extension Q5_0: EncodableBlockFormat {
    static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        let d = signedAbsoluteMax(x, 32).max / -16
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, block, 0)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let low = UInt8(truncatingIfNeeded: min(31, Int32(truncatedInt8(x[j] * id + 16.5))))
            let high = UInt8(truncatingIfNeeded: min(31, Int32(truncatedInt8(x[16 + j] * id + 16.5))))
            block.storeBytes(of: (low & 0x0F) | ((high & 0x0F) << 4), toByteOffset: 6 + j, as: UInt8.self)
            qh |= UInt32((low & 0x10) >> 4) << j
            qh |= UInt32((high & 0x10) >> 4) << (j + 16)
        }
        block.storeBytes(of: qh.littleEndian, toByteOffset: 2, as: UInt32.self)
    }
}

extension Q8_0: EncodableBlockFormat {
    static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 { amax = amax > abs(x[j]) ? amax : abs(x[j]) }  // C's MAX(amax, fabsf(v))
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, block, 0)
        for j in 0..<32 {
            // roundf: to nearest, ties away from zero.
            block.storeBytes(of: truncatedInt8((x[j] * id).rounded(.toNearestOrAwayFromZero)), toByteOffset: 2 + j, as: Int8.self)
        }
    }
}

/// The half of Q4_K's and Q5_K's encoding they share (`quantize_row_q4_K_ref` and `_q5_K_ref`
/// up to packing the values): each sub-block of 32 gets the scale and min that minimise its
/// weighted squared error (`make_qkx2_quants`, weights √(mean x²) + |x|); the eight scales and
/// mins are quantized to six bits against the block's largest and stored with the f16 d and dmin
/// in the block's first 16 bytes; the values are then re-quantized against the rounded scales
/// into `L` (0…`levels`). `search` is make_qkx2_quants' (rmin, nstep): (−1, 20) for Q4_K, (−0.5, 15) for Q5_K.
@inline(__always)
private func encodeScalesAndMins(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer, levels: Int32,
                                 search: (rmin: Float, steps: Int), _ L: UnsafeMutablePointer<UInt8>) {
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { auxiliary in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32 + 16) { floats in
            let weights = floats.baseAddress!, scales = weights + 32, mins = scales + 8
            var maxScale: Float = 0, maxMin: Float = 0
            for j in 0..<8 {
                let xs = x + 32 * j
                var sumX2: Float = 0
                for l in 0..<32 { sumX2 += xs[l] * xs[l] }
                let averageX = (sumX2 / 32).squareRoot()
                for l in 0..<32 { weights[l] = averageX + abs(xs[l]) }
                (scales[j], mins[j]) = scaleAndMin(xs, weights, levels: levels, search: search, L + 32 * j, auxiliary.baseAddress!)
                if scales[j] > maxScale { maxScale = scales[j] }
                if mins[j] > maxMin { maxMin = mins[j] }
            }
            let inverseScale: Float = maxScale > 0 ? 63 / maxScale : 0
            let inverseMin: Float = maxMin > 0 ? 63 / maxMin : 0
            let packed = (block + 4).assumingMemoryBound(to: UInt8.self)
            for k in 0..<12 { packed[k] = 0 }
            for j in 0..<8 {
                let ls = min(63, UInt8(truncatingIfNeeded: nearestInt(inverseScale * scales[j])))
                let lm = min(63, UInt8(truncatingIfNeeded: nearestInt(inverseMin * mins[j])))
                if j < 4 {
                    packed[j] = ls
                    packed[j + 4] = lm
                } else {
                    packed[j + 4] = (ls & 0x0F) | ((lm & 0x0F) << 4)
                    packed[j - 4] |= (ls >> 4) << 6
                    packed[j] |= (lm >> 4) << 6
                }
            }
            storeHalf(maxScale / 63, block, 0)
            storeHalf(maxMin / 63, block, 2)
            let d = halfRounded(maxScale / 63), dmin = halfRounded(maxMin / 63)
            for j in 0..<8 {
                let (sc, m) = scaleMinK4(j, UnsafePointer(packed))
                let scale = d * Float(sc)
                if scale == 0 { continue }
                let offset = dmin * Float(m)
                for i in 0..<32 {
                    L[32 * j + i] = UInt8(max(0, min(levels, nearestInt((x[32 * j + i] + offset) / scale))))
                }
            }
        }
    }
}

/// ggml's `make_qkx2_quants(32, levels, x, weights, L, &min, Laux, rmin, 0.1, nstep, false)`:
/// levels 0…`levels` in `L`, and the scale and (negated) min, found by trying nstep + 1 grid
/// spacings around levels/(max − min) and solving weighted least squares for each. `min` and the
/// range follow the best solution so far, as in the C code.
@inline(__always)
private func scaleAndMin(_ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, levels: Int32, search: (rmin: Float, steps: Int),
                         _ L: UnsafeMutablePointer<UInt8>, _ auxiliary: UnsafeMutablePointer<UInt8>) -> (scale: Float, min: Float) {
    let n = 32
    var minimum = x[0], maximum = x[0]
    var sumW = weights[0]
    var sumX = sumW * x[0]
    for i in 1..<n {
        if x[i] < minimum { minimum = x[i] }
        if x[i] > maximum { maximum = x[i] }
        let w = weights[i]
        sumW += w
        sumX += w * x[i]
    }
    if minimum > 0 { minimum = 0 }
    if maximum == minimum {
        for i in 0..<n { L[i] = 0 }
        return (0, -minimum)
    }
    var inverse = Float(levels) / (maximum - minimum)
    var scale = 1 / inverse
    var bestError: Float = 0
    for i in 0..<n {
        L[i] = UInt8(max(0, min(levels, nearestInt(inverse * (x[i] - minimum)))))
        let difference = scale * Float(L[i]) + minimum - x[i]
        bestError += weights[i] * (difference * difference)
    }
    for step in 0...search.steps {
        inverse = (search.rmin + 0.1 * Float(step) + Float(levels)) / (maximum - minimum)
        var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
        for i in 0..<n {
            let l = max(0, min(levels, nearestInt(inverse * (x[i] - minimum))))
            auxiliary[i] = UInt8(l)
            let w = weights[i]
            sumL += w * Float(l)
            sumL2 += w * Float(l) * Float(l)
            sumXL += w * Float(l) * x[i]
        }
        let determinant = sumW * sumL2 - sumL * sumL
        guard determinant > 0 else { continue }
        var thisScale = (sumW * sumXL - sumX * sumL) / determinant
        var thisMin = (sumL2 * sumX - sumL * sumXL) / determinant
        if thisMin > 0 {
            thisMin = 0
            thisScale = sumXL / sumL2
        }
        var error: Float = 0
        for i in 0..<n {
            let difference = thisScale * Float(auxiliary[i]) + thisMin - x[i]
            error += weights[i] * (difference * difference)
        }
        if error < bestError {
            for i in 0..<n { L[i] = auxiliary[i] }
            bestError = error
            scale = thisScale
            minimum = thisMin
        }
    }
    return (scale, -minimum)
}

extension Q4_K: EncodableBlockFormat {
    /// Scales and mins as `encodeScalesAndMins` with levels 0…15; sub-block 2p's values in the
    /// low nibbles of bytes 16 + 32p…, 2p+1's in the high nibbles.
    static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { levels in
            let L = levels.baseAddress!
            encodeScalesAndMins(x, into: block, levels: 15, search: (-1, 20), L)
            let q = (block + 16).assumingMemoryBound(to: UInt8.self)
            for pair in 0..<4 {
                for l in 0..<32 { q[32 * pair + l] = L[64 * pair + l] | (L[64 * pair + l + 32] << 4) }
            }
        }
    }
}

extension Q5_K: EncodableBlockFormat {
    /// Scales and mins as `encodeScalesAndMins` with levels 0…31; the low four bits packed as
    /// Q4_K's (from byte 48), the fifth bit of element l of sub-block s as bit s of byte 16 + l.
    static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { levels in
            let L = levels.baseAddress!
            encodeScalesAndMins(x, into: block, levels: 31, search: (-0.5, 15), L)
            let qh = (block + 16).assumingMemoryBound(to: UInt8.self), ql = (block + 48).assumingMemoryBound(to: UInt8.self)
            for l in 0..<32 { qh[l] = 0 }
            for pair in 0..<4 {
                for l in 0..<32 {
                    let low = L[64 * pair + l], high = L[64 * pair + l + 32]
                    if low > 15 { qh[l] |= 1 << (2 * pair) }
                    if high > 15 { qh[l] |= 2 << (2 * pair) }
                    ql[32 * pair + l] = (low & 0x0F) | ((high & 0x0F) << 4)
                }
            }
        }
    }
}

extension Q6_K: EncodableBlockFormat {
    /// Each sub-block of 16 gets the scale that best fits its values to levels −32…31 weighted
    /// by x² (`make_qx_quants`, 19 trial spacings); the sixteen scales are quantized to signed
    /// bytes against the largest in magnitude, and the values re-quantized against them.
    static func quantize(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256) { levels in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { subScales in
                let L = levels.baseAddress!, scales = subScales.baseAddress!
                var maxScale: Float = 0, maxAbsScale: Float = 0
                for ib in 0..<16 {
                    let scale = fittedScale(x + 16 * ib, L + 16 * ib)
                    scales[ib] = scale
                    if abs(scale) > maxAbsScale {
                        maxAbsScale = abs(scale)
                        maxScale = scale
                    }
                }
                let bytes = block.assumingMemoryBound(to: UInt8.self)
                if maxAbsScale < groupMaxEpsilon {
                    for k in 0..<blockBytes { bytes[k] = 0 }
                    return
                }
                let inverse = -128 / maxScale
                storeHalf(1 / inverse, block, 208)
                let d = halfRounded(1 / inverse)
                let blockScales = (block + 192).assumingMemoryBound(to: Int8.self)
                for ib in 0..<16 {
                    blockScales[ib] = Int8(truncatingIfNeeded: min(127, nearestInt(inverse * scales[ib])))
                }
                for j in 0..<16 {
                    let scale = d * Float(blockScales[j])
                    if scale == 0 { continue }
                    for i in 0..<16 {
                        L[16 * j + i] = Int8(max(-32, min(31, nearestInt(x[16 * j + i] / scale))) + 32)
                    }
                }
                let ql = bytes, qh = bytes + 128
                for half in 0..<2 {
                    let l0 = 128 * half, low = ql + 64 * half, high = qh + 32 * half
                    for l in 0..<32 {
                        let q1 = UInt8(L[l0 + l]), q2 = UInt8(L[l0 + l + 32])
                        let q3 = UInt8(L[l0 + l + 64]), q4 = UInt8(L[l0 + l + 96])
                        low[l] = (q1 & 0x0F) | ((q3 & 0x0F) << 4)
                        low[l + 32] = (q2 & 0x0F) | ((q4 & 0x0F) << 4)
                        high[l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)
                    }
                }
            }
        }
    }

    /// ggml's GROUP_MAX_EPS: below it a group counts as all zeros.
    private static let groupMaxEpsilon: Float = 1e-15

    /// ggml's `make_qx_quants(16, 32, x, L, 1, NULL)`: levels 0…63 (value + 32) in `L` and the
    /// scale, the least-squares fit weighted by x² at the best of 19 trial spacings.
    @inline(__always)
    private static func fittedScale(_ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>) -> Float {
        let n = 16, levels: Int32 = 32
        var maximum: Float = 0, amax: Float = 0
        for i in 0..<n where abs(x[i]) > amax {
            amax = abs(x[i]); maximum = x[i]
        }
        if amax < groupMaxEpsilon {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        @inline(__always) func level(_ inverse: Float, _ i: Int) -> Int32 {
            max(-levels, min(levels - 1, nearestInt(inverse * x[i])))
        }
        var inverse = Float(-levels) / maximum
        var sumLX: Float = 0, sumL2: Float = 0
        for i in 0..<n {
            let l = level(inverse, i)
            L[i] = Int8(l + levels)
            let w = x[i] * x[i]
            sumLX += w * x[i] * Float(l)
            sumL2 += w * Float(l) * Float(l)
        }
        var scale = sumL2 != 0 ? sumLX / sumL2 : 0
        var best = scale * sumLX
        for step in -9...9 where step != 0 {
            inverse = -(Float(levels) + 0.1 * Float(step)) / maximum
            sumLX = 0; sumL2 = 0
            for i in 0..<n {
                let l = level(inverse, i)
                let w = x[i] * x[i]
                sumLX += w * x[i] * Float(l)
                sumL2 += w * Float(l) * Float(l)
            }
            if sumL2 > 0 && sumLX * sumLX > best * sumL2 {
                for i in 0..<n { L[i] = Int8(level(inverse, i) + levels) }
                scale = sumLX / sumL2
                best = scale * sumLX
            }
        }
        return scale
    }
}

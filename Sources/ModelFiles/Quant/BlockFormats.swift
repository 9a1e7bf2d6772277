/// The GGML block quantisations medtune reads, one type per format, each decoding one block two
/// ways.
///
/// `dequantize` follows ggml-quants.c `dequantize_row_*` operation by operation (same products in
/// the same order, no fused multiply-add), so results equal gguf-py's `gguf.quants.dequantize` bit
/// for bit; its loops run over raw pointers with wrapping integer arithmetic so the compiler can
/// vectorise them. `dot` is the fused kernel of matrix–vector products: it decodes straight into
/// vector registers and multiplies with x there, the same values summed in another order.
protocol BlockFormat {
    /// Elements per block.
    static var blockSize: Int { get }
    /// Bytes per block.
    static var blockBytes: Int { get }
    /// Writes the `blockSize` values of the block at `block` to `out`.
    static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>)
    /// The block's share of Σ w·x as eight partial sums; `x` points at the block's first input.
    static func dot(_ block: UnsafeRawPointer, _ x: UnsafePointer<Float>) -> SIMD8<Float>
}

// Lane conversions spelled out lane by lane: the compiler turns these into single vector
// instructions, while the standard library's generic SIMD conversions may stay scalar loops.
@inline(__always)
private func floats(_ v: SIMD8<UInt8>) -> SIMD8<Float> {
    SIMD8(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]))
}

@inline(__always)
private func floats(_ v: SIMD8<Int8>) -> SIMD8<Float> {
    SIMD8(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]))
}

@inline(__always)
private func floats(_ v: SIMD8<UInt32>) -> SIMD8<Float> {
    SIMD8(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]))
}

@inline(__always)
func widened(_ v: SIMD8<UInt8>) -> SIMD8<UInt32> {
    SIMD8(UInt32(v[0]), UInt32(v[1]), UInt32(v[2]), UInt32(v[3]), UInt32(v[4]), UInt32(v[5]), UInt32(v[6]), UInt32(v[7]))
}

@inline(__always)
func widened(_ v: SIMD8<UInt16>) -> SIMD8<UInt32> {
    SIMD8(UInt32(v[0]), UInt32(v[1]), UInt32(v[2]), UInt32(v[3]), UInt32(v[4]), UInt32(v[5]), UInt32(v[6]), UInt32(v[7]))
}

@inline(__always)
private func vector(_ x: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
    UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
private func bytes8(_ block: UnsafeRawPointer, _ offset: Int) -> SIMD8<UInt8> {
    block.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt8>.self)
}

@inline(__always)
private func halfAt(_ block: UnsafeRawPointer, _ offset: Int) -> Float {
    HalfFloat.float(fromHalf: UInt16(littleEndian: block.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
}

@inline(__always)
private func bytesAt(_ block: UnsafeRawPointer, _ offset: Int) -> UnsafePointer<UInt8> {
    (block + offset).assumingMemoryBound(to: UInt8.self)
}

/// 32 elements: f16 scale d, then 16 bytes of 4-bit values (low nibbles: elements 0–15, high: 16–31);
/// value = d · (q − 8).
enum Q4_0: BlockFormat {
    static let blockSize = 32
    static let blockBytes = 18

    @inline(__always)
    static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfAt(block, 0)
        let qs = bytesAt(block, 2)
        for j in 0..<16 {
            out[j] = d * Float(Int32(qs[j] & 0x0F) &- 8)
            out[j + 16] = d * Float(Int32(qs[j] >> 4) &- 8)
        }
    }

    @inline(__always)
    static func dot(_ block: UnsafeRawPointer, _ x: UnsafePointer<Float>) -> SIMD8<Float> {
        let q = block.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self)
        let low = q & 0x0F, high = q &>> 4
        var acc = SIMD8<Float>()
        acc.addProduct(floats(low.lowHalf) - 8, vector(x, 0))
        acc.addProduct(floats(low.highHalf) - 8, vector(x, 8))
        acc.addProduct(floats(high.lowHalf) - 8, vector(x, 16))
        acc.addProduct(floats(high.highHalf) - 8, vector(x, 24))
        return acc * halfAt(block, 0)
    }
}

/// 32 elements: f16 scale d, 32 high bits (u32), 16 bytes of low nibbles; value = d · (q − 16).
enum Q5_0: BlockFormat {
    static let blockSize = 32
    static let blockBytes = 22

    @inline(__always)
    static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfAt(block, 0)
        let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        let qs = bytesAt(block, 6)
        // The high bits spread to one byte per element first, so the loop below has no per-lane
        // shifts and vectorises.
        var high = SIMD4<UInt64>(highBitBytes(qh), highBitBytes(qh >> 8), highBitBytes(qh >> 16), highBitBytes(qh >> 24))
        withUnsafeBytes(of: &high) { bytes in
            let h = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
            for j in 0..<16 {
                out[j] = d * Float(Int32((qs[j] & 0x0F) | h[j]) &- 16)
                out[j + 16] = d * Float(Int32((qs[j] >> 4) | h[j + 16]) &- 16)
            }
        }
    }

    @inline(__always)
    static func dot(_ block: UnsafeRawPointer, _ x: UnsafePointer<Float>) -> SIMD8<Float> {
        let qh = SIMD8<UInt32>(repeating: UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 2, as: UInt32.self)))
        let q = block.loadUnaligned(fromByteOffset: 6, as: SIMD16<UInt8>.self)
        let low = q & 0x0F, high = q &>> 4
        let lanes = SIMD8<UInt32>(0, 1, 2, 3, 4, 5, 6, 7)
        // Elements first…first+7 take their fifth bit from the same bits of qh.
        @inline(__always) func values(_ nibbles: SIMD8<UInt8>, _ first: UInt32) -> SIMD8<Float> {
            let fifth = ((qh &>> (lanes &+ first)) & 1) &<< 4
            return floats(widened(nibbles) | fifth) - 16
        }
        var acc = SIMD8<Float>()
        acc.addProduct(values(low.lowHalf, 0), vector(x, 0))
        acc.addProduct(values(low.highHalf, 8), vector(x, 8))
        acc.addProduct(values(high.lowHalf, 16), vector(x, 16))
        acc.addProduct(values(high.highHalf, 24), vector(x, 24))
        return acc * halfAt(block, 0)
    }

    /// The low 8 bits of `bits` as 8 bytes, each 0x10 where its bit is set (bit k → byte k).
    @inline(__always)
    private static func highBitBytes(_ bits: UInt32) -> UInt64 {
        let isolated = (UInt64(bits & 0xFF) &* 0x0101_0101_0101_0101) & 0x8040_2010_0804_0201
        return ((isolated &+ 0x7F7F_7F7F_7F7F_7F7F) & 0x8080_8080_8080_8080) >> 3
    }
}

/// 32 elements: f16 scale d, 32 signed bytes; value = d · q.
enum Q8_0: BlockFormat {
    static let blockSize = 32
    static let blockBytes = 34

    @inline(__always)
    static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfAt(block, 0)
        let qs = (block + 2).assumingMemoryBound(to: Int8.self)
        for j in 0..<32 { out[j] = d * Float(qs[j]) }
    }

    @inline(__always)
    static func dot(_ block: UnsafeRawPointer, _ x: UnsafePointer<Float>) -> SIMD8<Float> {
        var acc = SIMD8<Float>()
        for k in 0..<4 {
            acc.addProduct(floats(block.loadUnaligned(fromByteOffset: 2 + 8 * k, as: SIMD8<Int8>.self)), vector(x, 8 * k))
        }
        return acc * halfAt(block, 0)
    }
}

/// The 6-bit scale and min of sub-block `j` (0–7) packed in the 12 bytes of a Q4_K/Q5_K block
/// (ggml's `get_scale_min_k4`).
@inline(__always)
private func scaleMinK4(_ j: Int, _ q: UnsafePointer<UInt8>) -> (scale: Float, min: Float) {
    if j < 4 {
        return (Float(q[j] & 63), Float(q[j + 4] & 63))
    }
    return (Float((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4)),
            Float((q[j + 4] >> 4) | ((q[j] >> 6) << 4)))
}

/// 256 elements in 8 sub-blocks of 32: f16 d and dmin, 12 bytes of 6-bit scales and mins,
/// 128 bytes of 4-bit values; value = d·scale·q − dmin·min.
enum Q4_K: BlockFormat {
    static let blockSize = 256
    static let blockBytes = 144

    @inline(__always)
    static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfAt(block, 0), dmin = halfAt(block, 2)
        let scales = bytesAt(block, 4)
        for pair in 0..<4 {
            let q = bytesAt(block, 16 + 32 * pair)
            let (sc1, m1) = scaleMinK4(2 * pair, scales)
            let (sc2, m2) = scaleMinK4(2 * pair + 1, scales)
            let d1 = d * sc1, min1 = dmin * m1, d2 = d * sc2, min2 = dmin * m2
            let y = out + 64 * pair
            for l in 0..<32 { y[l] = d1 * Float(q[l] & 0x0F) - min1 }
            for l in 0..<32 { y[l + 32] = d2 * Float(q[l] >> 4) - min2 }
        }
    }

    @inline(__always)
    static func dot(_ block: UnsafeRawPointer, _ x: UnsafePointer<Float>) -> SIMD8<Float> {
        let d = halfAt(block, 0), dmin = halfAt(block, 2)
        let scales = bytesAt(block, 4)
        var acc = SIMD8<Float>()
        for pair in 0..<4 {
            let (sc1, m1) = scaleMinK4(2 * pair, scales)
            let (sc2, m2) = scaleMinK4(2 * pair + 1, scales)
            // Σ (d·sc·q − dmin·m)·x = d·sc·Σ q·x − dmin·m·Σ x, per sub-block.
            var qx1 = SIMD8<Float>(), qx2 = SIMD8<Float>(), x1 = SIMD8<Float>(), x2 = SIMD8<Float>()
            for k in 0..<4 {
                let q = bytes8(block, 16 + 32 * pair + 8 * k)
                let xa = vector(x, 64 * pair + 8 * k), xb = vector(x, 64 * pair + 32 + 8 * k)
                qx1.addProduct(floats(q & 0x0F), xa)
                qx2.addProduct(floats(q &>> 4), xb)
                x1 += xa
                x2 += xb
            }
            let scales1: Float = d * sc1, scales2: Float = d * sc2
            let mins1: Float = dmin * m1, mins2: Float = dmin * m2
            acc.addProduct(qx1, SIMD8(repeating: scales1))
            acc.addProduct(qx2, SIMD8(repeating: scales2))
            acc.addProduct(x1, SIMD8(repeating: -mins1))
            acc.addProduct(x2, SIMD8(repeating: -mins2))
        }
        return acc
    }
}

/// Q4_K plus one high bit per element (32 bytes, bit s of byte l belongs to sub-block s).
enum Q5_K: BlockFormat {
    static let blockSize = 256
    static let blockBytes = 176

    @inline(__always)
    static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfAt(block, 0), dmin = halfAt(block, 2)
        let scales = bytesAt(block, 4)
        let qh = bytesAt(block, 16)
        for pair in 0..<4 {
            let ql = bytesAt(block, 48 + 32 * pair)
            let (sc1, m1) = scaleMinK4(2 * pair, scales)
            let (sc2, m2) = scaleMinK4(2 * pair + 1, scales)
            let d1 = d * sc1, min1 = dmin * m1, d2 = d * sc2, min2 = dmin * m2
            let shift1 = UInt8(2 * pair), shift2 = UInt8(2 * pair + 1)
            let y = out + 64 * pair
            for l in 0..<32 {
                y[l] = d1 * Float((ql[l] & 0x0F) | (((qh[l] >> shift1) & 1) << 4)) - min1
            }
            for l in 0..<32 {
                y[l + 32] = d2 * Float((ql[l] >> 4) | (((qh[l] >> shift2) & 1) << 4)) - min2
            }
        }
    }

    @inline(__always)
    static func dot(_ block: UnsafeRawPointer, _ x: UnsafePointer<Float>) -> SIMD8<Float> {
        let d = halfAt(block, 0), dmin = halfAt(block, 2)
        let scales = bytesAt(block, 4)
        var acc = SIMD8<Float>()
        for pair in 0..<4 {
            let (sc1, m1) = scaleMinK4(2 * pair, scales)
            let (sc2, m2) = scaleMinK4(2 * pair + 1, scales)
            let shift1 = UInt8(2 * pair), shift2 = UInt8(2 * pair + 1)
            var qx1 = SIMD8<Float>(), qx2 = SIMD8<Float>(), x1 = SIMD8<Float>(), x2 = SIMD8<Float>()
            for k in 0..<4 {
                let q = bytes8(block, 48 + 32 * pair + 8 * k), h = bytes8(block, 16 + 8 * k)
                let xa = vector(x, 64 * pair + 8 * k), xb = vector(x, 64 * pair + 32 + 8 * k)
                qx1.addProduct(floats((q & 0x0F) | (((h &>> shift1) & 1) &<< 4)), xa)
                qx2.addProduct(floats((q &>> 4) | (((h &>> shift2) & 1) &<< 4)), xb)
                x1 += xa
                x2 += xb
            }
            let scales1: Float = d * sc1, scales2: Float = d * sc2
            let mins1: Float = dmin * m1, mins2: Float = dmin * m2
            acc.addProduct(qx1, SIMD8(repeating: scales1))
            acc.addProduct(qx2, SIMD8(repeating: scales2))
            acc.addProduct(x1, SIMD8(repeating: -mins1))
            acc.addProduct(x2, SIMD8(repeating: -mins2))
        }
        return acc
    }
}

/// 256 elements in 16 sub-blocks of 16: 128 bytes of low nibbles, 64 bytes of 2-bit high parts,
/// 16 signed 8-bit scales, f16 d; value = d·scale·(q − 32).
enum Q6_K: BlockFormat {
    static let blockSize = 256
    static let blockBytes = 210

    @inline(__always)
    static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfAt(block, 208)
        let scales = (block + 192).assumingMemoryBound(to: Int8.self)
        for half in 0..<2 {
            let ql = bytesAt(block, 64 * half)
            let qh = bytesAt(block, 128 + 32 * half)
            let sc = scales + 8 * half
            let y = out + 128 * half
            // Elements l and l+16 of each group of 32 use different scales.
            for part in 0..<2 {
                let d1 = d * Float(sc[part]), d2 = d * Float(sc[part + 2])
                let d3 = d * Float(sc[part + 4]), d4 = d * Float(sc[part + 6])
                for l in (16 * part)..<(16 * part + 16) {
                    y[l] = d1 * Float(Int32((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) &- 32)
                    y[l + 32] = d2 * Float(Int32((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) &- 32)
                    y[l + 64] = d3 * Float(Int32((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) &- 32)
                    y[l + 96] = d4 * Float(Int32((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) &- 32)
                }
            }
        }
    }

    @inline(__always)
    static func dot(_ block: UnsafeRawPointer, _ x: UnsafePointer<Float>) -> SIMD8<Float> {
        let d = halfAt(block, 208)
        let scales = (block + 192).assumingMemoryBound(to: Int8.self)
        var acc = SIMD8<Float>()
        for half in 0..<2 {
            let sc = scales + 8 * half
            let xh = x + 128 * half
            for l in stride(from: 0, to: 32, by: 8) {
                let a = bytes8(block, 64 * half + l), b = bytes8(block, 64 * half + 32 + l)
                let h = bytes8(block, 128 + 32 * half + l)
                let s = l / 16
                let q1 = floats((a & 0x0F) | ((h & 3) &<< 4)) - 32
                let q2 = floats((b & 0x0F) | (((h &>> 2) & 3) &<< 4)) - 32
                let q3 = floats((a &>> 4) | (((h &>> 4) & 3) &<< 4)) - 32
                let q4 = floats((b &>> 4) | ((h &>> 6) &<< 4)) - 32
                acc.addProduct(q1 * (d * Float(sc[s])), vector(xh, l))
                acc.addProduct(q2 * (d * Float(sc[s + 2])), vector(xh, l + 32))
                acc.addProduct(q3 * (d * Float(sc[s + 4])), vector(xh, l + 64))
                acc.addProduct(q4 * (d * Float(sc[s + 6])), vector(xh, l + 96))
            }
        }
        return acc
    }
}

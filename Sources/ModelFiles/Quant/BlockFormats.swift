/// The GGML block quantisations medtune reads, one type per format, each decoding one block.
///
/// Layouts and arithmetic follow ggml-quants.c `dequantize_row_*` operation by operation (same
/// products in the same order, no fused multiply-add), so results equal gguf-py's
/// `gguf.quants.dequantize` bit for bit. Loops run over raw pointers with wrapping integer
/// arithmetic so the compiler can vectorise them.
protocol BlockFormat {
    /// Elements per block.
    static var blockSize: Int { get }
    /// Bytes per block.
    static var blockBytes: Int { get }
    /// Writes the `blockSize` values of the block at `block` to `out`.
    static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>)
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
}

import MedtuneCore

/// The GGML block quantisations medtune reads, one type per format, each decoding one block two
/// ways.
///
/// `dequantize` computes every value with the operations of ggml-quants.c `dequantize_row_*`
/// (same products in the same order, no fused multiply-add), sixteen lanes at a time, so results
/// equal gguf-py's `gguf.quants.dequantize` bit for bit. `dot` is the fused kernel of
/// matrix–vector products: it decodes straight into vector registers and multiplies with float x
/// there. Offsets shared by a whole sub-block (Q4_0's −8, Q4_K's mins, Q6_K's −32) are applied
/// once per sub-block through the sums of x, as ggml does, instead of once per element.
protocol BlockFormat {
    /// Elements per block.
    static var blockSize: Int { get }
    /// Bytes per block.
    static var blockBytes: Int { get }
    /// Writes the `blockSize` values of the block at `block` to `out`.
    static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>)
    /// Adds the block's share of Σ w·x to `acc` (sixteen partial sums) and `offset`.
    /// `x` points at the block's first input, `sums` at the sums of its sixteen-element groups.
    static func dot(_ block: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ sums: UnsafePointer<Float>,
                    _ acc: inout SIMD16<Float>, _ offset: inout Float)
}

/// The two f16 values in the four bytes at `offset`, converted together. A 32-bit load
/// zero-extends into its vector register, where converting a single 16-bit load compiles to an
/// insert that waits on the register's previous contents (a false dependence that made one
/// block of decoding wait on the last).
@inline(__always)
private func halfPair(_ block: UnsafeRawPointer, _ offset: Int) -> SIMD2<Float> {
    let bits = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    #if !(os(macOS) && arch(x86_64))
    let halves = unsafeBitCast(bits, to: SIMD2<Float16>.self)
    return SIMD2(Float(halves[0]), Float(halves[1]))
    #else
    return SIMD2(HalfFloat.float(fromHalf: UInt16(truncatingIfNeeded: bits)), HalfFloat.float(fromHalf: UInt16(bits >> 16)))
    #endif
}

/// The f16 scale at the start of a block.
@inline(__always)
private func leadingHalf(_ block: UnsafeRawPointer) -> Float { halfPair(block, 0)[0] }

@inline(__always)
private func store(_ v: SIMD16<Float>, _ out: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(out + i).storeBytes(of: v, as: SIMD16<Float>.self)
}

@inline(__always)
private func splat(_ v: Float) -> SIMD16<Float> { SIMD16(repeating: v) }

@inline(__always)
private func splat(_ v: Int32) -> SIMD16<Int32> { SIMD16(repeating: v) }

/// Lane k holds k (the element index inside a sixteen-element group).
private let laneIndex = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)

/// Lane k holds the left shift that moves bit k to bit 31. Kept a global rather than a literal
/// in the kernel: with the shifts known, the optimiser rewrites Q5_0's bit tests into a mask
/// sequence several times slower than the two shifts.
private let bitToSign = SIMD16<Int32>(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16)

/// 32 elements: f16 scale d, then 16 bytes of 4-bit values (low nibbles: elements 0–15, high: 16–31);
/// value = d · (q − 8).
enum Q4_0: BlockFormat {
    static let blockSize = 32
    static let blockBytes = 18

    @inline(__always)
    static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = splat(leadingHalf(block))
        let q = Lanes.bytes(block, 2)
        store(d * Lanes.float((q & 15) &- 8), out, 0)
        store(d * Lanes.float((q &>> 4) &- 8), out, 16)
    }

    @inline(__always)
    static func dot(_ block: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ sums: UnsafePointer<Float>,
                    _ acc: inout SIMD16<Float>, _ offset: inout Float) {
        let d = leadingHalf(block)
        let q = Lanes.bytes(block, 2)
        var s = Lanes.float(q & 15) * Lanes.load(x, 0)
        s.addProduct(Lanes.float(q &>> 4), Lanes.load(x, 16))
        acc.addProduct(s, splat(d))
        offset -= 8 * d * (sums[0] + sums[1])
    }
}

/// 32 elements: f16 scale d, 32 high bits (u32), 16 bytes of low nibbles; value = d · (q − 16).
enum Q5_0: BlockFormat {
    static let blockSize = 32
    static let blockBytes = 22

    /// The five-bit values of elements 0–15 and 16–31.
    @inline(__always)
    private static func values(_ block: UnsafeRawPointer) -> (SIMD16<Int32>, SIMD16<Int32>) {
        let qh = splat(Int32(bitPattern: UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 2, as: UInt32.self))))
        let q = Lanes.bytes(block, 6)
        // Element k takes bit k of qh as its fifth bit.
        let low = (q & 15) | (((qh &>> laneIndex) &<< 4) & 16)
        let high = (q &>> 4) | (((qh &>> (laneIndex &+ 16)) &<< 4) & 16)
        return (low, high)
    }

    @inline(__always)
    static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = splat(leadingHalf(block))
        let (low, high) = values(block)
        store(d * Lanes.float(low &- 16), out, 0)
        store(d * Lanes.float(high &- 16), out, 16)
    }

    /// Decodes q − 16 itself rather than q: shifting element k's fifth bit into the sign and
    /// spreading it (an arithmetic shift) gives all ones where the bit is clear once inverted,
    /// which sign-extends the nibble to nibble − 16, and nothing where it is set. The compiler
    /// turns this into a sign test and a masked OR, with no offset to carry through x's sums.
    @inline(__always)
    static func dot(_ block: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ sums: UnsafePointer<Float>,
                    _ acc: inout SIMD16<Float>, _ offset: inout Float) {
        let d = leadingHalf(block)
        let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        let q = Lanes.bytes(block, 6)
        let lowSet = (splat(Int32(bitPattern: qh)) &<< bitToSign) &>> 31
        let highSet = (splat(Int32(bitPattern: qh)) &<< (bitToSign &- 16)) &>> 31
        var s = Lanes.float((q & 15) | (~lowSet & -16)) * Lanes.load(x, 0)
        s.addProduct(Lanes.float((q &>> 4) | (~highSet & -16)), Lanes.load(x, 16))
        acc.addProduct(s, splat(d))
    }
}

/// 32 elements: f16 scale d, 32 signed bytes; value = d · q.
enum Q8_0: BlockFormat {
    static let blockSize = 32
    static let blockBytes = 34

    @inline(__always)
    static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = splat(leadingHalf(block))
        store(d * Lanes.signedBytes(block, 2), out, 0)
        store(d * Lanes.signedBytes(block, 18), out, 16)
    }

    @inline(__always)
    static func dot(_ block: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ sums: UnsafePointer<Float>,
                    _ acc: inout SIMD16<Float>, _ offset: inout Float) {
        var s = Lanes.signedBytes(block, 2) * Lanes.load(x, 0)
        s.addProduct(Lanes.signedBytes(block, 18), Lanes.load(x, 16))
        acc.addProduct(s, splat(leadingHalf(block)))
    }
}

/// The 6-bit scale and min of sub-block `j` (0–7) packed in the 12 bytes of a Q4_K/Q5_K block
/// (ggml's `get_scale_min_k4`).
@inline(__always)
func scaleMinK4(_ j: Int, _ q: UnsafePointer<UInt8>) -> (scale: UInt8, min: UInt8) {
    if j < 4 {
        return (q[j] & 63, q[j + 4] & 63)
    }
    return ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
}

/// Shared by Q4_K and Q5_K: 256 elements in 8 sub-blocks of 32, f16 d and dmin, 12 bytes of
/// 6-bit scales and mins; value = d·scale·q − dmin·min. `values(pair)` gives the 64 quantized
/// values of sub-blocks 2·pair and 2·pair+1 as four groups of sixteen.
@inline(__always)
private func dequantizeK<Values>(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>, _ values: Values)
where Values: KQuantGroups {
    let (d, dmin) = (halfPair(block, 0)[0], halfPair(block, 0)[1])
    let scales = block.assumingMemoryBound(to: UInt8.self) + 4
    for pair in 0..<4 {
        let (sc1, m1) = scaleMinK4(2 * pair, scales)
        let (sc2, m2) = scaleMinK4(2 * pair + 1, scales)
        let d1 = splat(d * Float(sc1)), min1 = splat(dmin * Float(m1))
        let d2 = splat(d * Float(sc2)), min2 = splat(dmin * Float(m2))
        let (a, b, c, e) = values.groups(block, pair)
        let y = out + 64 * pair
        store(d1 * Lanes.float(a) - min1, y, 0)
        store(d1 * Lanes.float(b) - min1, y, 16)
        store(d2 * Lanes.float(c) - min2, y, 32)
        store(d2 * Lanes.float(e) - min2, y, 48)
    }
}

/// The 6-bit scales and mins of the eight sub-blocks are unpacked four at a time with 32-bit
/// word operations (ggml's `utmp` masks) and converted as vectors; the mins enter as one vector
/// product with the pairwise sums of x's groups, added lane by lane to the accumulator.
@inline(__always)
private func dotK<Values>(_ block: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ sums: UnsafePointer<Float>,
                          _ acc: inout SIMD16<Float>, _ offset: inout Float, _ values: Values)
where Values: KQuantGroups {
    let dm = halfPair(block, 0)
    let w0 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
    let w1 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
    let w2 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
    // Sub-blocks 0–3 keep six bits of bytes 0–3 (scales) and 4–7 (mins); 4–7 join a nibble of
    // bytes 8–11 with the top two bits of bytes 0–3 (scales) and 4–7 (mins).
    let packedScales = SIMD2<UInt32>(w0 & 0x3F3F_3F3F, (w2 & 0x0F0F_0F0F) | ((w0 >> 6) & 0x0303_0303) << 4)
    let packedMins = SIMD2<UInt32>(w1 & 0x3F3F_3F3F, ((w2 >> 4) & 0x0F0F_0F0F) | ((w1 >> 6) & 0x0303_0303) << 4)
    let scales = Lanes.float(unsafeBitCast(packedScales, to: SIMD8<UInt8>.self)) * SIMD8(repeating: dm[0])
    let mins = Lanes.float(unsafeBitCast(packedMins, to: SIMD8<UInt8>.self)) * SIMD8(repeating: -dm[1])
    let groupSums = Lanes.load(sums, 0)
    acc += SIMD16(lowHalf: mins * (groupSums.evenHalf + groupSums.oddHalf), highHalf: .zero)
    for pair in 0..<4 {
        let (a, b, c, e) = values.groups(block, pair)
        let xp = x + 64 * pair
        var s1 = Lanes.float(a) * Lanes.load(xp, 0)
        s1.addProduct(Lanes.float(b), Lanes.load(xp, 16))
        var s2 = Lanes.float(c) * Lanes.load(xp, 32)
        s2.addProduct(Lanes.float(e), Lanes.load(xp, 48))
        acc.addProduct(s1, splat(scales[2 * pair]))
        acc.addProduct(s2, splat(scales[2 * pair + 1]))
    }
}

/// The quantized values of one pair of K sub-blocks, in four groups of sixteen elements.
protocol KQuantGroups {
    func groups(_ block: UnsafeRawPointer, _ pair: Int) -> (SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>)
}

/// 256 elements in 8 sub-blocks of 32: f16 d and dmin, 12 bytes of 6-bit scales and mins,
/// 128 bytes of 4-bit values (sub-block 2p in the low nibbles of bytes 32p…32p+31, 2p+1 in the
/// high nibbles); value = d·scale·q − dmin·min.
enum Q4_K: BlockFormat {
    static let blockSize = 256
    static let blockBytes = 144

    struct Values: KQuantGroups {
        @inline(__always)
        func groups(_ block: UnsafeRawPointer, _ pair: Int) -> (SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>) {
            let q0 = Lanes.bytes(block, 16 + 32 * pair), q1 = Lanes.bytes(block, 32 + 32 * pair)
            return (q0 & 15, q1 & 15, q0 &>> 4, q1 &>> 4)
        }
    }

    @inline(__always)
    static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        dequantizeK(block, into: out, Values())
    }

    @inline(__always)
    static func dot(_ block: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ sums: UnsafePointer<Float>,
                    _ acc: inout SIMD16<Float>, _ offset: inout Float) {
        dotK(block, x, sums, &acc, &offset, Values())
    }
}

/// Q4_K plus one high bit per element (32 bytes after the scales, bit s of byte l belongs to
/// element l of sub-block s); the low nibbles follow at byte 48.
enum Q5_K: BlockFormat {
    static let blockSize = 256
    static let blockBytes = 176

    struct Values: KQuantGroups {
        @inline(__always)
        func groups(_ block: UnsafeRawPointer, _ pair: Int) -> (SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>) {
            let q0 = Lanes.bytes(block, 48 + 32 * pair), q1 = Lanes.bytes(block, 64 + 32 * pair)
            let h0 = Lanes.bytes(block, 16), h1 = Lanes.bytes(block, 32)
            let low = Int32(2 * pair), high = Int32(2 * pair + 1)
            @inline(__always) func fifth(_ h: SIMD16<Int32>, _ bit: Int32) -> SIMD16<Int32> { ((h &>> splat(bit)) & 1) &<< 4 }
            return ((q0 & 15) | fifth(h0, low), (q1 & 15) | fifth(h1, low),
                    (q0 &>> 4) | fifth(h0, high), (q1 &>> 4) | fifth(h1, high))
        }
    }

    @inline(__always)
    static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        dequantizeK(block, into: out, Values())
    }

    @inline(__always)
    static func dot(_ block: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ sums: UnsafePointer<Float>,
                    _ acc: inout SIMD16<Float>, _ offset: inout Float) {
        dotK(block, x, sums, &acc, &offset, Values())
    }
}

/// 256 elements in 16 sub-blocks of 16: 128 bytes of low nibbles, 64 bytes of 2-bit high parts,
/// 16 signed 8-bit scales, f16 d; value = d·scale·(q − 32).
///
/// Each half of 128 elements takes 64 bytes of nibbles (ql) and 32 of high bits (qh): element
/// l (0–31) is ql[l] low | qh[l] bits 0–1, l+32 is ql[l+32] low | bits 2–3, l+64 is ql[l] high |
/// bits 4–5, l+96 is ql[l+32] high | bits 6–7.
enum Q6_K: BlockFormat {
    static let blockSize = 256
    static let blockBytes = 210

    /// The six-bit values of elements 16g…16g+15 of each quarter of half `half` (g = 0, 1), with
    /// the sub-block index of each group.
    @inline(__always)
    private static func groups(_ block: UnsafeRawPointer, _ half: Int, _ g: Int)
        -> (SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>) {
        let a = Lanes.bytes(block, 64 * half + 16 * g)
        let b = Lanes.bytes(block, 64 * half + 32 + 16 * g)
        let h = Lanes.bytes(block, 128 + 32 * half + 16 * g)
        return ((a & 15) | ((h &<< 4) & 48), (b & 15) | ((h &<< 2) & 48),
                (a &>> 4) | (h & 48), (b &>> 4) | ((h &>> 2) & 48))
    }

    @inline(__always)
    static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfPair(block, 206)[1]
        let scales = (block + 192).assumingMemoryBound(to: Int8.self)
        for half in 0..<2 {
            let sc = scales + 8 * half
            let y = out + 128 * half
            for g in 0..<2 {
                let (q1, q2, q3, q4) = groups(block, half, g)
                store(splat(d * Float(sc[g])) * Lanes.float(q1 &- 32), y, 16 * g)
                store(splat(d * Float(sc[g + 2])) * Lanes.float(q2 &- 32), y, 32 + 16 * g)
                store(splat(d * Float(sc[g + 4])) * Lanes.float(q3 &- 32), y, 64 + 16 * g)
                store(splat(d * Float(sc[g + 6])) * Lanes.float(q4 &- 32), y, 96 + 16 * g)
            }
        }
    }

    /// The sixteen scales are converted together, one vector, and the −32 of every element
    /// enters as one vector product of those scales with the sixteen group sums of x, added
    /// lane by lane to the accumulator (whose lanes are summed in the end anyway).
    @inline(__always)
    static func dot(_ block: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ sums: UnsafePointer<Float>,
                    _ acc: inout SIMD16<Float>, _ offset: inout Float) {
        let scales = Lanes.signedBytes(block, 192) * splat(halfPair(block, 206)[1])
        acc.addProduct(scales * splat(-32), Lanes.load(sums, 0))
        for half in 0..<2 {
            let xh = x + 128 * half
            for g in 0..<2 {
                let (q1, q2, q3, q4) = groups(block, half, g)
                let k = 8 * half + g
                acc.addProduct(Lanes.float(q1) * Lanes.load(xh, 16 * g), splat(scales[k]))
                acc.addProduct(Lanes.float(q2) * Lanes.load(xh, 32 + 16 * g), splat(scales[k + 2]))
                acc.addProduct(Lanes.float(q3) * Lanes.load(xh, 64 + 16 * g), splat(scales[k + 4]))
                acc.addProduct(Lanes.float(q4) * Lanes.load(xh, 96 + 16 * g), splat(scales[k + 6]))
            }
        }
    }
}

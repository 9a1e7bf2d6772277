/// Row-level kernels over stored bytes of any supported type: decode to float32, and the fused
/// decode-and-dot that matrix–vector products use so that only the stored bytes cross the memory bus.
public enum RowCodec {
    /// Decodes `count` elements stored as `type` at `source` into `destination`.
    /// `count` is a whole number of blocks (GGUF guarantees it for every row).
    public static func dequantize(_ type: StorageType, _ source: UnsafeRawPointer,
                                  into destination: UnsafeMutablePointer<Float>, count: Int) {
        switch type {
        // Plain types are read unaligned: safetensors does not promise aligned offsets.
        case .f32:
            UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: 4 * count)
        case .f16:
            var i = 0
            #if !(os(macOS) && arch(x86_64))
            while i + 16 <= count {
                let v = Lanes.float(source.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<Float16>.self))
                UnsafeMutableRawPointer(destination + i).storeBytes(of: v, as: SIMD16<Float>.self)
                i += 16
            }
            #endif
            while i < count {
                destination[i] = HalfFloat.float(fromHalf: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                i += 1
            }
        case .bf16:
            var i = 0
            while i + 16 <= count {
                UnsafeMutableRawPointer(destination + i).storeBytes(of: bfloats(source, i), as: SIMD16<Float>.self)
                i += 16
            }
            while i < count {
                destination[i] = HalfFloat.float(fromBFloat: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                i += 1
            }
        case .q4_0: decodeBlocks(Q4_0.self, source, destination, count)
        case .q5_0: decodeBlocks(Q5_0.self, source, destination, count)
        case .q8_0: decodeBlocks(Q8_0.self, source, destination, count)
        case .q4_K: decodeBlocks(Q4_K.self, source, destination, count)
        case .q5_K: decodeBlocks(Q5_K.self, source, destination, count)
        case .q6_K: decodeBlocks(Q6_K.self, source, destination, count)
        case .other:
            // Callers construct weights only from supported types.
            preconditionFailure("no decoder for \(type)")
        }
    }

    @inline(__always)
    private static func decodeBlocks<Q: BlockFormat>(_: Q.Type, _ source: UnsafeRawPointer,
                                                    _ destination: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<(count / Q.blockSize) {
            Q.dequantize(source + b * Q.blockBytes, into: destination + b * Q.blockSize)
        }
    }

    /// Sixteen bfloat16 values at element `i`: each is the upper half of a float32.
    @inline(__always)
    private static func bfloats(_ source: UnsafeRawPointer, _ i: Int) -> SIMD16<Float> {
        unsafeBitCast(Lanes.uint32(source.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt16>.self)) &<< 16,
                      to: SIMD16<Float>.self)
    }

    /// Σ w[i]·x[i] over a row of `count` elements stored as `type`.
    public static func dot(_ type: StorageType, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var result: Float = 0
        FloatInput.prepare(x, count: count, for: type) { input in
            dots(type, rows: 0..<1, of: row, rowBytes: 0, input, count: count) { _, value in result = value }
        }
        return result
    }

    /// Σ w·x for each row in `rows` of the matrix at `base` (rows `rowBytes` apart), handed to
    /// `write(row, value)`: the fused kernels of matrix–vector products, which read each stored
    /// byte once and never write decoded values. The type is resolved once, outside the row loop.
    @inline(__always)
    static func dots(_ type: StorageType, rows: Range<Int>, of base: UnsafeRawPointer, rowBytes: Int,
                     _ input: FloatInput, count: Int, _ write: (Int, Float) -> Void) {
        @inline(__always) func each(_ kernel: (UnsafeRawPointer) -> Float) {
            for r in rows { write(r, kernel(base + r * rowBytes)) }
        }
        let x = input.x
        switch type {
        case .f32:
            each { row in
                Int(bitPattern: row) % MemoryLayout<Float>.alignment == 0
                    ? Dot.product(row.assumingMemoryBound(to: Float.self), x, count)
                    : chunkedDot(.f32, row, x, count)
            }
        case .f16:
            #if !(os(macOS) && arch(x86_64))
            each { row in
                plainDot(row, x, count, vector: { Lanes.float($0.loadUnaligned(fromByteOffset: 2 * $1, as: SIMD16<Float16>.self)) },
                         scalar: { HalfFloat.float(fromHalf: $0.loadUnaligned(fromByteOffset: 2 * $1, as: UInt16.self)) })
            }
            #else
            each { chunkedDot(.f16, $0, x, count) }
            #endif
        case .bf16:
            each { row in
                plainDot(row, x, count, vector: bfloats,
                         scalar: { HalfFloat.float(fromBFloat: $0.loadUnaligned(fromByteOffset: 2 * $1, as: UInt16.self)) })
            }
        case .q4_0: each { fusedDot(Q4_0.self, $0, input, count) }
        case .q5_0: each { fusedDot(Q5_0.self, $0, input, count) }
        case .q8_0: each { fusedDot(Q8_0.self, $0, input, count) }
        case .q4_K: each { fusedDot(Q4_K.self, $0, input, count) }
        case .q5_K: each { fusedDot(Q5_K.self, $0, input, count) }
        case .q6_K: each { fusedDot(Q6_K.self, $0, input, count) }
        case .other:
            preconditionFailure("no kernel for \(type)")
        }
    }

    /// Blocks rotate through four sets of accumulators, so consecutive blocks do not wait on
    /// each other's additions.
    @inline(__always)
    private static func fusedDot<Q: BlockFormat>(_: Q.Type, _ row: UnsafeRawPointer, _ input: FloatInput, _ count: Int) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>(), acc2 = SIMD16<Float>(), acc3 = SIMD16<Float>()
        var offset0: Float = 0, offset1: Float = 0, offset2: Float = 0, offset3: Float = 0
        let blocks = count / Q.blockSize, groups = Q.blockSize / 16
        @inline(__always) func dot(_ b: Int, _ acc: inout SIMD16<Float>, _ offset: inout Float) {
            Q.dot(row + b * Q.blockBytes, input.x + b * Q.blockSize, input.sums + b * groups, &acc, &offset)
        }
        var b = 0
        while b + 4 <= blocks {
            dot(b, &acc0, &offset0)
            dot(b + 1, &acc1, &offset1)
            dot(b + 2, &acc2, &offset2)
            dot(b + 3, &acc3, &offset3)
            b += 4
        }
        while b < blocks {
            dot(b, &acc0, &offset0)
            b += 1
        }
        return Lanes.sum((acc0 + acc1) + (acc2 + acc3)) + ((offset0 + offset1) + (offset2 + offset3))
    }

    /// A row of 16-bit floats: sixteen lanes converted in registers, then the tail one by one.
    @inline(__always)
    private static func plainDot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ count: Int,
                                 vector: (UnsafeRawPointer, Int) -> SIMD16<Float>,
                                 scalar: (UnsafeRawPointer, Int) -> Float) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        var i = 0
        while i + 32 <= count {
            acc0.addProduct(vector(row, i), Lanes.load(x, i))
            acc1.addProduct(vector(row, i + 16), Lanes.load(x, i + 16))
            i += 32
        }
        if i + 16 <= count {
            acc0.addProduct(vector(row, i), Lanes.load(x, i))
            i += 16
        }
        var sum = Lanes.sum(acc0 + acc1)
        while i < count {
            sum += scalar(row, i) * x[i]
            i += 1
        }
        return sum
    }

    /// Decodes a chunk into an L1-resident buffer, then multiplies: for rows no fused kernel reads.
    private static func chunkedDot(_ type: StorageType, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ count: Int) -> Float {
        let chunk = 256
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: chunk) { scratch in
            let buffer = scratch.baseAddress!
            var sum: Float = 0
            var start = 0
            while start < count {
                let n = min(chunk, count - start)
                dequantize(type, row + start * type.blockBytes, into: buffer, count: n)
                sum += Dot.product(buffer, x + start, n)
                start += n
            }
            return sum
        }
    }
}

/// Float x as the fused kernels read it: x itself and the sums of its groups of sixteen, which
/// carry the offsets every quantized block shares (computed once per product, not once per row).
struct FloatInput {
    let x: UnsafePointer<Float>
    let sums: UnsafePointer<Float>

    /// Calls `body` with x prepared for rows of `type` (group sums only for block types).
    static func prepare<R>(_ x: UnsafePointer<Float>, count: Int, for type: StorageType, _ body: (FloatInput) -> R) -> R {
        prepare(x, count: count, sums: type.isQuantized, body)
    }

    /// Calls `body` with x and, when `sums`, its group sums.
    static func prepare<R>(_ x: UnsafePointer<Float>, count: Int, sums: Bool, _ body: (FloatInput) -> R) -> R {
        let groups = sums ? count / 16 : 0
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: max(groups, 1)) { buffer in
            let sums = buffer.baseAddress!
            for g in 0..<groups { sums[g] = Lanes.sum(Lanes.load(x, 16 * g)) }
            return body(FloatInput(x: x, sums: sums))
        }
    }
}

/// Float dot products with several independent vector accumulators (a plain loop would be one
/// serial chain of additions, which the compiler may not reorder).
public enum Dot {
    @inline(__always)
    public static func product(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        var i = 0
        while i + 32 <= count {
            acc0.addProduct(Lanes.load(a, i), Lanes.load(b, i))
            acc1.addProduct(Lanes.load(a, i + 16), Lanes.load(b, i + 16))
            i += 32
        }
        if i + 16 <= count {
            acc0.addProduct(Lanes.load(a, i), Lanes.load(b, i))
            i += 16
        }
        var sum = Lanes.sum(acc0 + acc1)
        while i < count {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }

    /// Σ w_j·x_i for one or two rows w (`w1` nil for one) and `inputs` rows of x (`count` apart),
    /// handed to `write(j, i, value)`. Four inputs at a time share each loaded w vector.
    @inline(__always)
    static func products(_ w0: UnsafePointer<Float>, _ w1: UnsafePointer<Float>?, _ x: UnsafePointer<Float>,
                         inputs: Int, count: Int, _ write: (Int, Int, Float) -> Void) {
        var i = 0
        while i + 4 <= inputs {
            let x0 = x + i * count, x1 = x0 + count, x2 = x1 + count, x3 = x2 + count
            if let w1 {
                var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
                var b0 = SIMD16<Float>(), b1 = SIMD16<Float>(), b2 = SIMD16<Float>(), b3 = SIMD16<Float>()
                var k = 0
                while k + 16 <= count {
                    let u = Lanes.load(w0, k), v = Lanes.load(w1, k)
                    let y0 = Lanes.load(x0, k), y1 = Lanes.load(x1, k), y2 = Lanes.load(x2, k), y3 = Lanes.load(x3, k)
                    a0.addProduct(u, y0); a1.addProduct(u, y1); a2.addProduct(u, y2); a3.addProduct(u, y3)
                    b0.addProduct(v, y0); b1.addProduct(v, y1); b2.addProduct(v, y2); b3.addProduct(v, y3)
                    k += 16
                }
                write(0, i, Lanes.sum(a0) + tail(w0, x0, k, count)); write(0, i + 1, Lanes.sum(a1) + tail(w0, x1, k, count))
                write(0, i + 2, Lanes.sum(a2) + tail(w0, x2, k, count)); write(0, i + 3, Lanes.sum(a3) + tail(w0, x3, k, count))
                write(1, i, Lanes.sum(b0) + tail(w1, x0, k, count)); write(1, i + 1, Lanes.sum(b1) + tail(w1, x1, k, count))
                write(1, i + 2, Lanes.sum(b2) + tail(w1, x2, k, count)); write(1, i + 3, Lanes.sum(b3) + tail(w1, x3, k, count))
            } else {
                var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
                var k = 0
                while k + 16 <= count {
                    let u = Lanes.load(w0, k)
                    a0.addProduct(u, Lanes.load(x0, k)); a1.addProduct(u, Lanes.load(x1, k))
                    a2.addProduct(u, Lanes.load(x2, k)); a3.addProduct(u, Lanes.load(x3, k))
                    k += 16
                }
                write(0, i, Lanes.sum(a0) + tail(w0, x0, k, count)); write(0, i + 1, Lanes.sum(a1) + tail(w0, x1, k, count))
                write(0, i + 2, Lanes.sum(a2) + tail(w0, x2, k, count)); write(0, i + 3, Lanes.sum(a3) + tail(w0, x3, k, count))
            }
            i += 4
        }
        while i < inputs {
            let xi = x + i * count
            write(0, i, product(w0, xi, count))
            if let w1 { write(1, i, product(w1, xi, count)) }
            i += 1
        }
    }

    /// Σ a[k]·b[k] for k in start..<count, one by one (the elements past the last full vector).
    @inline(__always)
    private static func tail(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ start: Int, _ count: Int) -> Float {
        var sum: Float = 0
        for k in start..<count { sum += a[k] * b[k] }
        return sum
    }
}

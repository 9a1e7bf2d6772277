import MedtuneCore

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

    /// Encodes the `count` float32 values at `source` as `type` into `destination`, bit for bit
    /// as the reference does: llama.cpp's `quantize_row_*_ref` for block types, round to nearest
    /// even for F16 and BF16 (numpy's `astype(float16)`, ggml's `fp32_to_bf16`). `count` is a whole
    /// number of blocks and `type` a supported one (every type medtune decodes, it encodes).
    public static func quantize(_ type: StorageType, _ source: UnsafePointer<Float>,
                                into destination: UnsafeMutableRawPointer, count: Int) {
        switch type {
        case .f32:
            for i in 0..<count { destination.storeBytes(of: source[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        case .f16:
            for i in 0..<count { destination.storeBytes(of: HalfFloat.half(from: source[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .bf16:
            for i in 0..<count { destination.storeBytes(of: HalfFloat.bfloat(from: source[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .q4_0: encodeBlocks(Q4_0.self, source, destination, count)
        case .q5_0: encodeBlocks(Q5_0.self, source, destination, count)
        case .q8_0: encodeBlocks(Q8_0.self, source, destination, count)
        case .q4_K: encodeBlocks(Q4_K.self, source, destination, count)
        case .q5_K: encodeBlocks(Q5_K.self, source, destination, count)
        case .q6_K: encodeBlocks(Q6_K.self, source, destination, count)
        case .other:
            // Callers encode only supported types.
            preconditionFailure("no encoder for \(type)")
        }
    }

    @inline(__always)
    private static func encodeBlocks<Q: EncodableBlockFormat>(_: Q.Type, _ source: UnsafePointer<Float>,
                                                             _ destination: UnsafeMutableRawPointer, _ count: Int) {
        for b in 0..<(count / Q.blockSize) {
            Q.quantize(source + b * Q.blockSize, into: destination + b * Q.blockBytes)
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
            writeGroupSums(x, groups: groups, into: buffer.baseAddress!)
            return body(FloatInput(x: x, sums: buffer.baseAddress!))
        }
    }

    /// sums[g] = x[16g] + … + x[16g + 15] for the first `groups` groups of sixteen.
    static func writeGroupSums(_ x: UnsafePointer<Float>, groups: Int, into sums: UnsafeMutablePointer<Float>) {
        for g in 0..<groups { sums[g] = Lanes.sum(Lanes.load(x, 16 * g)) }
    }
}

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
            for i in 0..<count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                destination[i] = HalfFloat.float(fromHalf: bits)
            }
        case .bf16:
            for i in 0..<count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                destination[i] = HalfFloat.float(fromBFloat: bits)
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

    /// Σ w[i]·x[i] over a row of `count` elements stored as `type`: the fused kernels of
    /// matrix–vector products, which read each stored byte once and never write decoded values.
    public static func dot(_ type: StorageType, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        switch type {
        case .f32 where Int(bitPattern: row) % MemoryLayout<Float>.alignment == 0:
            return Dot.product(row.assumingMemoryBound(to: Float.self), x, count)
        case .bf16:
            var acc = SIMD8<Float>()
            var i = 0
            while i + 8 <= count {
                let bits = widened(row.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<UInt16>.self)) &<< 16
                acc.addProduct(unsafeBitCast(bits, to: SIMD8<Float>.self), UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self))
                i += 8
            }
            var sum = acc.sum()
            while i < count {
                sum += HalfFloat.float(fromBFloat: row.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) * x[i]
                i += 1
            }
            return sum
        case .q4_0: return fusedDot(Q4_0.self, row, x, count)
        case .q5_0: return fusedDot(Q5_0.self, row, x, count)
        case .q8_0: return fusedDot(Q8_0.self, row, x, count)
        case .q4_K: return fusedDot(Q4_K.self, row, x, count)
        case .q5_K: return fusedDot(Q5_K.self, row, x, count)
        case .q6_K: return fusedDot(Q6_K.self, row, x, count)
        default:
            // f16 (and unaligned f32): decode a chunk into an L1-resident buffer, then multiply.
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

    @inline(__always)
    private static func fusedDot<Q: BlockFormat>(_: Q.Type, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc = SIMD8<Float>()
        for b in 0..<(count / Q.blockSize) {
            acc += Q.dot(row + b * Q.blockBytes, x + b * Q.blockSize)
        }
        return acc.sum()
    }
}

/// Float dot products with several independent vector accumulators (a plain loop would be one
/// serial chain of additions, which the compiler may not reorder).
public enum Dot {
    @inline(__always)
    public static func product(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var i = 0
        while i + 16 <= count {
            acc0 += ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            acc1 += ra.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self)
            i += 16
        }
        var sum = (acc0 + acc1).sum()
        while i < count {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }
}

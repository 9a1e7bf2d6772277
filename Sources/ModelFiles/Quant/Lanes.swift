import MedtuneCore

/// Vector building blocks of the row kernels.
///
/// The standard library's generic SIMD conversions, its integer operators on vectors of more than
/// sixteen lanes and its vector-with-scalar integer operators can compile to scalar loops;
/// conversions written out lane by lane, and integer operators between vectors of at most sixteen
/// lanes, compile to single vector instructions (checked in the release binary's assembly:
/// vpmovzxbd, vpmovsxbd, vcvtdq2ps and vcvtph2ps on 512-bit registers).
extension Lanes {
    @inline(__always)
    static func float(_ v: SIMD16<Int8>) -> SIMD16<Float> {
        SIMD16<Float>(
            Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]),
            Float(v[8]), Float(v[9]), Float(v[10]), Float(v[11]), Float(v[12]), Float(v[13]), Float(v[14]), Float(v[15]))
    }

    @inline(__always)
    static func float(_ v: SIMD16<Int32>) -> SIMD16<Float> {
        SIMD16<Float>(
            Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]),
            Float(v[8]), Float(v[9]), Float(v[10]), Float(v[11]), Float(v[12]), Float(v[13]), Float(v[14]), Float(v[15]))
    }

    @inline(__always)
    static func float(_ v: SIMD8<UInt8>) -> SIMD8<Float> {
        SIMD8<Float>(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]))
    }

    @inline(__always)
    static func int32(_ v: SIMD16<UInt8>) -> SIMD16<Int32> {
        SIMD16<Int32>(
            Int32(v[0]), Int32(v[1]), Int32(v[2]), Int32(v[3]), Int32(v[4]), Int32(v[5]), Int32(v[6]), Int32(v[7]),
            Int32(v[8]), Int32(v[9]), Int32(v[10]), Int32(v[11]), Int32(v[12]), Int32(v[13]), Int32(v[14]), Int32(v[15]))
    }

    @inline(__always)
    static func uint32(_ v: SIMD16<UInt16>) -> SIMD16<UInt32> {
        SIMD16<UInt32>(
            UInt32(v[0]), UInt32(v[1]), UInt32(v[2]), UInt32(v[3]), UInt32(v[4]), UInt32(v[5]), UInt32(v[6]), UInt32(v[7]),
            UInt32(v[8]), UInt32(v[9]), UInt32(v[10]), UInt32(v[11]), UInt32(v[12]), UInt32(v[13]), UInt32(v[14]), UInt32(v[15]))
    }

    #if !(os(macOS) && arch(x86_64))
    @inline(__always)
    static func float(_ v: SIMD16<Float16>) -> SIMD16<Float> {
        SIMD16<Float>(
            Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]),
            Float(v[8]), Float(v[9]), Float(v[10]), Float(v[11]), Float(v[12]), Float(v[13]), Float(v[14]), Float(v[15]))
    }
    #endif

    /// Sixteen bytes at `offset`, zero-extended to 32-bit lanes.
    @inline(__always)
    static func bytes(_ p: UnsafeRawPointer, _ offset: Int) -> SIMD16<Int32> {
        int32(p.loadUnaligned(fromByteOffset: offset, as: SIMD16<UInt8>.self))
    }

    /// Sixteen signed bytes at `offset` as floats.
    @inline(__always)
    static func signedBytes(_ p: UnsafeRawPointer, _ offset: Int) -> SIMD16<Float> {
        float(p.loadUnaligned(fromByteOffset: offset, as: SIMD16<Int8>.self))
    }
}

/// SIMD16 building blocks shared by the float kernels here and the row kernels of ModelFiles
/// (which adds its integer and half-precision conversions to this type).
public enum Lanes {
    /// Sixteen floats from `p + i` (any alignment).
    @inlinable @inline(__always)
    public static func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD16<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
    }

    /// The sum of the sixteen lanes as a tree of vector additions (the standard library's `sum()`
    /// adds the lanes one after another: a chain of 15 dependent scalar additions).
    @inlinable @inline(__always)
    public static func sum(_ v: SIMD16<Float>) -> Float {
        let eight = v.lowHalf + v.highHalf
        let four = eight.lowHalf + eight.highHalf
        let two = four.lowHalf + four.highHalf
        return two[0] + two[1]
    }
}

/// Float dot products with several independent vector accumulators (a plain loop would be one
/// serial chain of additions, which the compiler may not reorder).
public enum Dot {
    @inlinable @inline(__always)
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
    @inlinable @inline(__always)
    public static func products(_ w0: UnsafePointer<Float>, _ w1: UnsafePointer<Float>?, _ x: UnsafePointer<Float>,
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
    @usableFromInline @inline(__always)
    static func tail(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ start: Int, _ count: Int) -> Float {
        var sum: Float = 0
        for k in start..<count { sum += a[k] * b[k] }
        return sum
    }
}

import Foundation

/// A chart of series against one x axis: lines, dots and interval bars, with a title, labelled
/// axes, round ticks, a grid and a legend. One layout is drawn twice, as SVG text and into a
/// raster (PNG), so both files show the same chart. Charts of one width stack into one image
/// (`ChartColumn`), panels sharing their x axis.
public struct LineChart: Sendable {
    public struct Point: Sendable {
        public var x: Double, y: Double
        /// An interval drawn as a bar from low to high (a confidence interval), when both are set.
        public var low: Double?, high: Double?

        public init(x: Double, y: Double, low: Double? = nil, high: Double? = nil) {
            self.x = x; self.y = y; self.low = low; self.high = high
        }
    }

    /// How a series is drawn: a polyline `width` wide, dots of `radius`, or both.
    public struct Mark: Sendable {
        public var lineWidth: Double?, dotRadius: Double?

        public static func line(_ width: Double) -> Mark { Mark(lineWidth: width, dotRadius: nil) }
        public static func dots(_ radius: Double) -> Mark { Mark(lineWidth: nil, dotRadius: radius) }
        public static func lineAndDots(_ width: Double, _ radius: Double) -> Mark { Mark(lineWidth: width, dotRadius: radius) }
    }

    public struct Series: Sendable {
        public var name: String
        public var color: Raster.Color
        public var mark: Mark
        public var points: [Point]

        public init(_ name: String, color: Raster.Color, mark: Mark, points: [Point]) {
            self.name = name; self.color = color; self.mark = mark; self.points = points.filter { $0.x.isFinite && $0.y.isFinite }
        }
    }

    public var title: String
    public var xLabel: String, yLabel: String
    public var series: [Series]
    public var width = 800, height = 480
    /// Whether the axis range reaches down (or up) to zero.
    public var xIncludesZero = true, yIncludesZero = false

    public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series
    }

    static let axisColor = Raster.Color(60, 60, 60)
    static let gridColor = Raster.Color(228, 228, 228)

    /// Where everything goes: plot area, scales and ticks.
    struct Layout {
        let left = 76.0, right = 24.0, top = 44.0, bottom = 56.0
        let width: Double, height: Double
        let xRange: ClosedRange<Double>, yRange: ClosedRange<Double>
        let xTicks: [Double], yTicks: [Double]

        init(_ chart: LineChart) {
            width = Double(chart.width); height = Double(chart.height)
            let points = chart.series.flatMap(\.points)
            let xs = points.map(\.x), ys = points.flatMap { [$0.y, $0.low, $0.high].compactMap { $0 } }
            let x = Self.niceRange(xs.min() ?? 0, xs.max() ?? 1, includeZero: chart.xIncludesZero)
            let y = Self.niceRange(ys.min() ?? 0, ys.max() ?? 1, includeZero: chart.yIncludesZero)
            xRange = x.range; yRange = y.range
            xTicks = x.ticks; yTicks = y.ticks
        }

        var plotWidth: Double { width - left - right }
        var plotHeight: Double { height - top - bottom }
        func x(_ value: Double) -> Double { left + (value - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) * plotWidth }
        func y(_ value: Double) -> Double { top + (yRange.upperBound - value) / (yRange.upperBound - yRange.lowerBound) * plotHeight }
        var xSpacing: Double { xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1 }
        var ySpacing: Double { yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1 }

        /// A range with round ends and about five ticks at 1, 2 or 5 × 10ⁿ.
        static func niceRange(_ low: Double, _ high: Double, includeZero: Bool) -> (range: ClosedRange<Double>, ticks: [Double]) {
            var low = includeZero ? min(0, low) : low, high = includeZero ? max(0, high) : high
            if high - low < 1e-12 { low -= 0.5; high += 0.5 }
            let raw = (high - low) / 5
            let magnitude = pow(10, floor(log10(raw)))
            let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
            let start = floor(low / step) * step, end = ceil(high / step) * step
            let ticks = stride(from: start, through: end + step / 2, by: step).map { $0 }
            return (start...max(end, start + step), ticks)
        }
    }

    /// A tick label with no more digits than the tick spacing needs.
    static func label(_ value: Double, spacing: Double) -> String {
        let decimals = max(0, Int(-floor(log10(spacing)).rounded()))
        if abs(value) >= 1e5 || (value != 0 && abs(value) < 1e-4) { return String(format: "%.1e", value) }
        return String(format: "%.\(decimals)f", value)
    }

    /// Half the width of an interval bar's end caps.
    static let capHalfWidth = 5.0

    // MARK: SVG

    public func svg() -> String {
        ChartColumn([self]).svg()
    }

    /// The chart's elements, its top edge at `top` in the image.
    func svgBody(top offset: Double) -> String {
        let l = Layout(self)
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        func hex(_ c: Raster.Color) -> String { String(format: "#%02x%02x%02x", c.r, c.g, c.b) }
        func escape(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        var s = "<g transform=\"translate(0 \(f(offset)))\">\n"
        s += "<text x=\"\(f(l.width / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">\(escape(title))</text>\n"
        for t in l.yTicks {
            s += "<line x1=\"\(f(l.left))\" y1=\"\(f(l.y(t)))\" x2=\"\(f(l.width - l.right))\" y2=\"\(f(l.y(t)))\" stroke=\"\(hex(Self.gridColor))\"/>\n"
            s += "<text x=\"\(f(l.left - 6))\" y=\"\(f(l.y(t) + 4))\" text-anchor=\"end\">\(Self.label(t, spacing: l.ySpacing))</text>\n"
        }
        for t in l.xTicks {
            s += "<line x1=\"\(f(l.x(t)))\" y1=\"\(f(l.top))\" x2=\"\(f(l.x(t)))\" y2=\"\(f(l.height - l.bottom))\" stroke=\"\(hex(Self.gridColor))\"/>\n"
            s += "<text x=\"\(f(l.x(t)))\" y=\"\(f(l.height - l.bottom + 18))\" text-anchor=\"middle\">\(Self.label(t, spacing: l.xSpacing))</text>\n"
        }
        s += "<rect x=\"\(f(l.left))\" y=\"\(f(l.top))\" width=\"\(f(l.plotWidth))\" height=\"\(f(l.plotHeight))\" fill=\"none\" stroke=\"\(hex(Self.axisColor))\"/>\n"
        s += "<text x=\"\(f(l.left + l.plotWidth / 2))\" y=\"\(f(l.height - 14))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        s += "<text transform=\"translate(18 \(f(l.top + l.plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        for series in self.series {
            let color = hex(series.color)
            for p in series.points {
                guard let low = p.low, let high = p.high else { continue }
                let x = l.x(p.x), c = Self.capHalfWidth
                s += "<path d=\"M\(f(x)),\(f(l.y(low))) V\(f(l.y(high))) M\(f(x - c)),\(f(l.y(low))) H\(f(x + c)) M\(f(x - c)),\(f(l.y(high))) H\(f(x + c))\" stroke=\"\(color)\" stroke-width=\"1.5\" fill=\"none\"/>\n"
            }
            if let width = series.mark.lineWidth {
                let coordinates = series.points.map { "\(f(l.x($0.x))),\(f(l.y($0.y)))" }.joined(separator: " ")
                s += "<polyline points=\"\(coordinates)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(width)\" stroke-linejoin=\"round\"/>\n"
            }
            if let radius = series.mark.dotRadius {
                for p in series.points { s += "<circle cx=\"\(f(l.x(p.x)))\" cy=\"\(f(l.y(p.y)))\" r=\"\(radius)\" fill=\"\(color)\"/>\n" }
            }
        }
        for (i, series) in self.series.enumerated() {
            let y = l.top + 14 + Double(i) * 18, x = l.width - l.right - 170
            if let width = series.mark.lineWidth {
                s += "<line x1=\"\(f(x))\" y1=\"\(f(y))\" x2=\"\(f(x + 22))\" y2=\"\(f(y))\" stroke=\"\(hex(series.color))\" stroke-width=\"\(width)\"/>\n"
            }
            if let radius = series.mark.dotRadius {
                s += "<circle cx=\"\(f(x + 11))\" cy=\"\(f(y))\" r=\"\(radius)\" fill=\"\(hex(series.color))\"/>\n"
            }
            s += "<text x=\"\(f(x + 30))\" y=\"\(f(y + 4))\">\(escape(series.name))</text>\n"
        }
        return s + "</g>\n"
    }

    // MARK: PNG

    public func raster() -> Raster {
        ChartColumn([self]).raster()
    }

    public func png() -> Data { PNGEncoder.encode(raster()) }

    /// Draws the chart into `r` with its top edge at row `offset`.
    func draw(into r: inout Raster, top offset: Double) {
        let l = Layout(self)
        func y(_ value: Double) -> Double { offset + l.y(value) }
        let top = offset + l.top, bottom = offset + l.height - l.bottom
        let titleScale = 2
        r.text(title, x: Int(l.width / 2) - BitmapFont.textWidth(title, scale: titleScale) / 2, y: Int(offset) + 12, scale: titleScale, .black)
        for t in l.yTicks {
            r.line(l.left, y(t), l.width - l.right, y(t), Self.gridColor)
            let text = Self.label(t, spacing: l.ySpacing)
            r.text(text, x: Int(l.left) - 6 - BitmapFont.textWidth(text), y: Int(y(t)) - 3, Self.axisColor)
        }
        for t in l.xTicks {
            r.line(l.x(t), top, l.x(t), bottom, Self.gridColor)
            let text = Self.label(t, spacing: l.xSpacing)
            r.text(text, x: Int(l.x(t)) - BitmapFont.textWidth(text) / 2, y: Int(bottom) + 8, Self.axisColor)
        }
        let (x0, x1) = (l.left, l.width - l.right)
        for (a, b, c, d) in [(x0, top, x1, top), (x1, top, x1, bottom), (x1, bottom, x0, bottom), (x0, bottom, x0, top)] {
            r.line(a, b, c, d, Self.axisColor)
        }
        r.text(xLabel, x: Int(l.left + l.plotWidth / 2) - BitmapFont.textWidth(xLabel, scale: 2) / 2, y: Int(offset + l.height) - 26, scale: 2, .black)
        r.text(yLabel, x: 12, y: Int(top + l.plotHeight / 2) + BitmapFont.textWidth(yLabel, scale: 2) / 2, scale: 2, .black, vertical: true)
        for series in self.series {
            for p in series.points {
                guard let low = p.low, let high = p.high else { continue }
                let x = l.x(p.x), c = Self.capHalfWidth
                r.line(x, y(low), x, y(high), series.color, thickness: 1.5)
                r.line(x - c, y(low), x + c, y(low), series.color, thickness: 1.5)
                r.line(x - c, y(high), x + c, y(high), series.color, thickness: 1.5)
            }
            if let width = series.mark.lineWidth {
                for (a, b) in zip(series.points, series.points.dropFirst()) {
                    r.line(l.x(a.x), y(a.y), l.x(b.x), y(b.y), series.color, thickness: width)
                }
                if series.points.count == 1, let p = series.points.first { r.disc(l.x(p.x), y(p.y), radius: width, series.color) }
            }
            if let radius = series.mark.dotRadius {
                for p in series.points { r.disc(l.x(p.x), y(p.y), radius: radius, series.color) }
            }
        }
        for (i, series) in self.series.enumerated() {
            let ly = top + 14 + Double(i) * 18, x = l.width - l.right - 170
            if let width = series.mark.lineWidth { r.line(x, ly, x + 22, ly, series.color, thickness: width) }
            if let radius = series.mark.dotRadius { r.disc(x + 11, ly, radius: radius, series.color) }
            r.text(series.name, x: Int(x) + 30, y: Int(ly) - 3, Self.axisColor)
        }
    }
}

/// Charts stacked top to bottom in one image, as wide as the widest.
public struct ChartColumn: Sendable {
    public var charts: [LineChart]

    public init(_ charts: [LineChart]) { self.charts = charts }

    var width: Int { charts.map(\.width).max() ?? 0 }
    var height: Int { charts.reduce(0) { $0 + $1.height } }

    public func svg() -> String {
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>

        """
        var top = 0
        for chart in charts {
            s += chart.svgBody(top: Double(top))
            top += chart.height
        }
        return s + "</svg>\n"
    }

    public func raster() -> Raster {
        var r = Raster(width: width, height: height)
        var top = 0
        for chart in charts {
            chart.draw(into: &r, top: Double(top))
            top += chart.height
        }
        return r
    }

    public func png() -> Data { PNGEncoder.encode(raster()) }
}

import Foundation

/// The loss-curve chart: training loss per logged step, its exponential moving average, and the
/// validation losses as points, with labelled axes and a title. One layout is drawn twice, as
/// SVG text and into a PNG raster.
public struct LossCurve: Sendable {
    public var training: [(step: Int, loss: Double)]
    public var validation: [(step: Int, loss: Double)]
    public var title: String
    /// TensorBoard's smoothing weight: each point keeps this much of the average so far.
    public var smoothing = 0.6
    public var width = 800
    public var height = 480

    public init(records: [MetricsRecord], title: String) {
        training = records.compactMap { r in r.loss.flatMap { $0.isFinite ? (r.step, $0) : nil } }
        validation = records.compactMap { r in r.valLoss.flatMap { $0.isFinite ? (r.step, $0) : nil } }
        self.title = title
    }

    /// Debiased exponential moving average of the training losses (TensorBoard's smoothing).
    public var smoothed: [Double] {
        var average = 0.0, weight = 0.0
        return training.map { point in
            average = average * smoothing + (1 - smoothing) * point.loss
            weight = weight * smoothing + (1 - smoothing)
            return average / weight
        }
    }

    static let trainingColor = Raster.Color(158, 193, 229)
    static let smoothedColor = Raster.Color(31, 94, 170)
    static let validationColor = Raster.Color(214, 96, 37)
    static let axisColor = Raster.Color(60, 60, 60)
    static let gridColor = Raster.Color(228, 228, 228)

    /// Where everything goes: plot area, scales and ticks.
    struct Layout {
        let left = 76.0, right = 24.0, top = 44.0, bottom = 56.0
        let width: Double, height: Double
        let xRange: ClosedRange<Double>, yRange: ClosedRange<Double>
        let xTicks: [Double], yTicks: [Double]

        init(_ curve: LossCurve) {
            width = Double(curve.width); height = Double(curve.height)
            let steps = curve.training.map { Double($0.step) } + curve.validation.map { Double($0.step) }
            let losses = curve.training.map(\.loss) + curve.validation.map(\.loss)
            let x = Self.niceRange(steps.min() ?? 0, steps.max() ?? 1, includeZero: true)
            let y = Self.niceRange(losses.min() ?? 0, losses.max() ?? 1, includeZero: false)
            xRange = x.range; yRange = y.range
            xTicks = x.ticks; yTicks = y.ticks
        }

        var plotWidth: Double { width - left - right }
        var plotHeight: Double { height - top - bottom }
        func x(_ step: Double) -> Double { left + (step - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) * plotWidth }
        func y(_ loss: Double) -> Double { top + (yRange.upperBound - loss) / (yRange.upperBound - yRange.lowerBound) * plotHeight }

        /// A range with round ends and about five ticks at 1, 2 or 5 × 10ⁿ.
        static func niceRange(_ low: Double, _ high: Double, includeZero: Bool) -> (range: ClosedRange<Double>, ticks: [Double]) {
            var low = includeZero ? min(0, low) : low, high = high
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

    // MARK: SVG

    public func svg() -> String {
        let l = Layout(self)
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        func hex(_ c: Raster.Color) -> String { String(format: "#%02x%02x%02x", c.r, c.g, c.b) }
        func escape(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(l.width / 2))" y="24" text-anchor="middle" font-size="16">\(escape(title))</text>

        """
        let xSpacing = l.xTicks.count > 1 ? l.xTicks[1] - l.xTicks[0] : 1
        let ySpacing = l.yTicks.count > 1 ? l.yTicks[1] - l.yTicks[0] : 1
        for t in l.yTicks {
            s += "<line x1=\"\(f(l.left))\" y1=\"\(f(l.y(t)))\" x2=\"\(f(l.width - l.right))\" y2=\"\(f(l.y(t)))\" stroke=\"\(hex(Self.gridColor))\"/>\n"
            s += "<text x=\"\(f(l.left - 6))\" y=\"\(f(l.y(t) + 4))\" text-anchor=\"end\">\(Self.label(t, spacing: ySpacing))</text>\n"
        }
        for t in l.xTicks {
            s += "<line x1=\"\(f(l.x(t)))\" y1=\"\(f(l.top))\" x2=\"\(f(l.x(t)))\" y2=\"\(f(l.height - l.bottom))\" stroke=\"\(hex(Self.gridColor))\"/>\n"
            s += "<text x=\"\(f(l.x(t)))\" y=\"\(f(l.height - l.bottom + 18))\" text-anchor=\"middle\">\(Self.label(t, spacing: xSpacing))</text>\n"
        }
        s += "<rect x=\"\(f(l.left))\" y=\"\(f(l.top))\" width=\"\(f(l.plotWidth))\" height=\"\(f(l.plotHeight))\" fill=\"none\" stroke=\"\(hex(Self.axisColor))\"/>\n"
        s += "<text x=\"\(f(l.left + l.plotWidth / 2))\" y=\"\(f(l.height - 14))\" text-anchor=\"middle\">step</text>\n"
        s += "<text transform=\"translate(18 \(f(l.top + l.plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">loss</text>\n"
        func polyline(_ points: [(Double, Double)], _ color: Raster.Color, _ width: Double) -> String {
            let coordinates = points.map { "\(f(l.x($0.0))),\(f(l.y($0.1)))" }.joined(separator: " ")
            return "<polyline points=\"\(coordinates)\" fill=\"none\" stroke=\"\(hex(color))\" stroke-width=\"\(width)\" stroke-linejoin=\"round\"/>\n"
        }
        s += polyline(training.map { (Double($0.step), $0.loss) }, Self.trainingColor, 1.5)
        s += polyline(zip(training, smoothed).map { (Double($0.0.step), $0.1) }, Self.smoothedColor, 2.5)
        for point in validation {
            s += "<circle cx=\"\(f(l.x(Double(point.step))))\" cy=\"\(f(l.y(point.loss)))\" r=\"4.5\" fill=\"\(hex(Self.validationColor))\"/>\n"
        }
        for (i, entry) in legend.enumerated() {
            let y = l.top + 14 + Double(i) * 18, x = l.width - l.right - 170
            s += entry.marker == .line
                ? "<line x1=\"\(f(x))\" y1=\"\(f(y))\" x2=\"\(f(x + 22))\" y2=\"\(f(y))\" stroke=\"\(hex(entry.color))\" stroke-width=\"2.5\"/>\n"
                : "<circle cx=\"\(f(x + 11))\" cy=\"\(f(y))\" r=\"4.5\" fill=\"\(hex(entry.color))\"/>\n"
            s += "<text x=\"\(f(x + 30))\" y=\"\(f(y + 4))\">\(entry.text)</text>\n"
        }
        return s + "</svg>\n"
    }

    enum Marker { case line, dot }
    var legend: [(text: String, color: Raster.Color, marker: Marker)] {
        var entries: [(String, Raster.Color, Marker)] = [("training loss", Self.trainingColor, .line),
                                                         ("smoothed (ema)", Self.smoothedColor, .line)]
        if !validation.isEmpty { entries.append(("validation loss", Self.validationColor, .dot)) }
        return entries
    }

    // MARK: PNG

    public func raster() -> Raster {
        let l = Layout(self)
        var r = Raster(width: width, height: height)
        let xSpacing = l.xTicks.count > 1 ? l.xTicks[1] - l.xTicks[0] : 1
        let ySpacing = l.yTicks.count > 1 ? l.yTicks[1] - l.yTicks[0] : 1
        let titleScale = 2
        r.text(title, x: Int(l.width / 2) - BitmapFont.textWidth(title, scale: titleScale) / 2, y: 12, scale: titleScale, .black)
        for t in l.yTicks {
            r.line(l.left, l.y(t), l.width - l.right, l.y(t), Self.gridColor)
            let text = Self.label(t, spacing: ySpacing)
            r.text(text, x: Int(l.left) - 6 - BitmapFont.textWidth(text), y: Int(l.y(t)) - 3, Self.axisColor)
        }
        for t in l.xTicks {
            r.line(l.x(t), l.top, l.x(t), l.height - l.bottom, Self.gridColor)
            let text = Self.label(t, spacing: xSpacing)
            r.text(text, x: Int(l.x(t)) - BitmapFont.textWidth(text) / 2, y: Int(l.height - l.bottom) + 8, Self.axisColor)
        }
        let (x0, y0, x1, y1) = (l.left, l.top, l.width - l.right, l.height - l.bottom)
        for (a, b, c, d) in [(x0, y0, x1, y0), (x1, y0, x1, y1), (x1, y1, x0, y1), (x0, y1, x0, y0)] { r.line(a, b, c, d, Self.axisColor) }
        r.text("step", x: Int(l.left + l.plotWidth / 2) - BitmapFont.textWidth("step", scale: 2) / 2, y: Int(l.height) - 26, scale: 2, .black)
        r.text("loss", x: 12, y: Int(l.top + l.plotHeight / 2) + BitmapFont.textWidth("loss", scale: 2) / 2, scale: 2, .black, vertical: true)
        func path(_ points: [(Double, Double)], _ color: Raster.Color, _ thickness: Double) {
            for (a, b) in zip(points, points.dropFirst()) {
                r.line(l.x(a.0), l.y(a.1), l.x(b.0), l.y(b.1), color, thickness: thickness)
            }
            if points.count == 1, let p = points.first { r.disc(l.x(p.0), l.y(p.1), radius: thickness, color) }
        }
        path(training.map { (Double($0.step), $0.loss) }, Self.trainingColor, 1.5)
        path(zip(training, smoothed).map { (Double($0.0.step), $0.1) }, Self.smoothedColor, 2.5)
        for point in validation { r.disc(l.x(Double(point.step)), l.y(point.loss), radius: 4.5, Self.validationColor) }
        for (i, entry) in legend.enumerated() {
            let y = l.top + 14 + Double(i) * 18, x = l.width - l.right - 170
            if entry.marker == .line { r.line(x, y, x + 22, y, entry.color, thickness: 2.5) } else { r.disc(x + 11, y, radius: 4.5, entry.color) }
            r.text(entry.text, x: Int(x) + 30, y: Int(y) - 3, Self.axisColor)
        }
        return r
    }

    public func png() -> Data { PNGEncoder.encode(raster()) }
}

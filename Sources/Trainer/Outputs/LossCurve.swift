import Charts
import Foundation

/// The loss-curve chart: training loss per logged step, its exponential moving average, and the
/// validation losses as points, drawn as SVG and PNG by one `LineChart`.
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

    public var chart: LineChart {
        var series = [
            LineChart.Series("training loss", color: Self.trainingColor, mark: .line(1.5),
                             points: training.map { LineChart.Point(x: Double($0.step), y: $0.loss) }),
            LineChart.Series("smoothed (ema)", color: Self.smoothedColor, mark: .line(2.5),
                             points: zip(training, smoothed).map { LineChart.Point(x: Double($0.0.step), y: $0.1) }),
        ]
        if !validation.isEmpty {
            series.append(LineChart.Series("validation loss", color: Self.validationColor, mark: .dots(4.5),
                                           points: validation.map { LineChart.Point(x: Double($0.step), y: $0.loss) }))
        }
        var chart = LineChart(title: title, xLabel: "step", yLabel: "loss", series: series)
        chart.width = width
        chart.height = height
        return chart
    }

    public func svg() -> String { chart.svg() }
    public func raster() -> Raster { chart.raster() }
    public func png() -> Data { chart.png() }
}

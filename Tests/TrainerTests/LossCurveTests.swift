import CZlib
import Foundation
import TestSupport
import Charts
@testable import Trainer
import XCTest

final class LossCurveTests: XCTestCase {
    /// Known answers: the PNG specification's CRC-32 check value and the CRC of an IEND chunk.
    func testChecksumsMatchTheirStandards() {
        XCTAssertEqual(PNGEncoder.crc32(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(PNGEncoder.crc32(Array("IEND".utf8)), 0xAE42_6082)
    }

    /// A run's loss curve is deflated: a 1200 × 700 chart is tens of kilobytes, not the 3.4 MB
    /// of its raw pixels, and still reads back to the same pixels.
    func testLossCurvePNGIsCompressed() throws {
        let records = (1...300).map { MetricsRecord(step: $0, epoch: Double($0) / 100, loss: 3 / (1 + Double($0) / 50), valLoss: $0 % 50 == 0 ? 2.5 : nil) }
        let curve = LossCurve(records: records, title: "medical: loss by step")
        let png = curve.png()
        let image = try decode(png)
        XCTAssertEqual(image.pixels, curve.raster().pixels)
        XCTAssertLessThan(png.count, 100_000, "\(png.count) bytes for \(image.width) × \(image.height)")
    }

    /// Reads a PNG back: chunk layout and CRCs, IHDR, the zlib stream (inflated by zlib, which
    /// checks its Adler-32), and the pixels themselves.
    func decode(_ data: Data) throws -> (width: Int, height: Int, pixels: [UInt8]) {
        let bytes = [UInt8](data)
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        func u32(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
        var offset = 8, chunks: [(String, [UInt8])] = []
        while offset < bytes.count {
            let length = u32(offset)
            let typeAndData = Array(bytes[(offset + 4)..<(offset + 8 + length)])
            XCTAssertEqual(UInt32(u32(offset + 8 + length)), PNGEncoder.crc32(typeAndData))
            chunks.append((String(decoding: typeAndData.prefix(4), as: UTF8.self), Array(typeAndData.dropFirst(4))))
            offset += 12 + length
        }
        XCTAssertEqual(chunks.map(\.0), ["IHDR", "IDAT", "IEND"])
        let header = chunks[0].1
        let width = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        let height = Int(header[4]) << 24 | Int(header[5]) << 16 | Int(header[6]) << 8 | Int(header[7])
        XCTAssertEqual(Array(header[8...]), [8, 6, 0, 0, 0])
        let zlib = chunks[1].1
        XCTAssertEqual((Int(zlib[0]) << 8 | Int(zlib[1])) % 31, 0, "zlib header check bits")
        var inflated = [UInt8](repeating: 0, count: height * (width * 4 + 1))
        var inflatedSize = uLong(inflated.count)
        XCTAssertEqual(uncompress(&inflated, &inflatedSize, zlib, uLong(zlib.count)), Z_OK)
        XCTAssertEqual(Int(inflatedSize), inflated.count)
        var pixels: [UInt8] = []
        for y in 0..<height {
            let row = inflated[(y * (width * 4 + 1))..<((y + 1) * (width * 4 + 1))]
            XCTAssertEqual(row.first, 0, "filter None")
            pixels += row.dropFirst()
        }
        return (width, height, pixels)
    }

    func testPNGRoundTripsItsPixels() throws {
        var raster = Raster(width: 3, height: 2)
        raster.plot(0, 0, .black)
        raster.plot(2, 1, Raster.Color(10, 20, 30, 255))
        let image = try decode(PNGEncoder.encode(raster))
        XCTAssertEqual(image.width, 3)
        XCTAssertEqual(image.height, 2)
        XCTAssertEqual(image.pixels, raster.pixels)
        XCTAssertEqual(Array(image.pixels.prefix(8)), [0, 0, 0, 255, 255, 255, 255, 255])
        XCTAssertEqual(Array(image.pixels.suffix(4)), [10, 20, 30, 255])
    }

    func testSmoothingIsTheDebiasedMovingAverage() {
        var curve = LossCurve(records: [MetricsRecord(step: 1, epoch: 0, loss: 4), MetricsRecord(step: 2, epoch: 0, loss: 2)], title: "t")
        curve.smoothing = 0.6
        XCTAssertEqual(curve.smoothed[0], 4, accuracy: 1e-12)
        XCTAssertEqual(curve.smoothed[1], (0.6 * 0.4 * 4 + 0.4 * 2) / (0.6 * 0.4 + 0.4), accuracy: 1e-12)
    }

    func testChartDrawsEverySeriesWithAxesAndTitle() throws {
        let records = (1...30).map { (s: Int) -> MetricsRecord in
            let root = Double(s).squareRoot()
            let loss: Double = 3 / root + 0.1 * Double(s % 3)
            let validation: Double? = s % 10 == 0 ? 2.5 / root : nil
            return MetricsRecord(step: s * 20, epoch: Double(s) / 10, loss: loss, valLoss: validation)
        }
        let curve = LossCurve(records: records, title: "demo: loss by step")
        XCTAssertEqual(curve.training.count, 30)
        XCTAssertEqual(curve.validation.count, 3)
        let svg = curve.svg()
        XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        XCTAssertTrue(svg.contains(">demo: loss by step</text>"))
        XCTAssertTrue(svg.contains(">step</text>") && svg.contains(">loss</text>"))
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 2)
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 3 + 1, "validation points and the legend's marker")
        XCTAssertTrue(svg.contains(">600</text>"), "the x axis reaches the last step")

        let image = try decode(curve.png())
        XCTAssertEqual(image.width, 800)
        XCTAssertEqual(image.height, 480)
        func count(_ color: Raster.Color) -> Int {
            stride(from: 0, to: image.pixels.count, by: 4).filter {
                image.pixels[$0] == color.r && image.pixels[$0 + 1] == color.g && image.pixels[$0 + 2] == color.b
            }.count
        }
        XCTAssertGreaterThan(count(LossCurve.smoothedColor), 300)
        XCTAssertGreaterThan(count(LossCurve.trainingColor), 100)
        XCTAssertGreaterThan(count(LossCurve.validationColor), 3 * 40)
        XCTAssertGreaterThan(count(.black), 200, "title and axis labels")
    }

    func testBitmapFontDrawsDigitsAndLetters() {
        var raster = Raster(width: 40, height: 9)
        raster.text("1.5e", x: 1, y: 1, .black)
        // The "1": its stem is column 2 of the glyph, rows 0-6.
        for row in 0..<7 { XCTAssertEqual(raster.pixel(1 + 2, 1 + row), .black, "row \(row)") }
        XCTAssertEqual(raster.pixel(1, 1), .white)
        XCTAssertEqual(BitmapFont.textWidth("1.5e"), 23)
    }
}

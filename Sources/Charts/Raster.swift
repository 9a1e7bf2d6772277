import CZlib
import Foundation

/// An 8-bit RGBA image to draw into.
public struct Raster: Sendable {
    public struct Color: Equatable, Sendable {
        public var r, g, b, a: UInt8
        public init(_ r: UInt8, _ g: UInt8, _ b: UInt8, _ a: UInt8 = 255) { self.r = r; self.g = g; self.b = b; self.a = a }
        public static let white = Color(255, 255, 255)
        public static let black = Color(0, 0, 0)
    }

    public let width: Int
    public let height: Int
    /// Row-major RGBA bytes.
    public private(set) var pixels: [UInt8]

    public init(width: Int, height: Int, background: Color = .white) {
        self.width = width; self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 4)
        fill(x: 0, y: 0, width: width, height: height, background)
    }

    public func pixel(_ x: Int, _ y: Int) -> Color {
        let i = (y * width + x) * 4
        return Color(pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3])
    }

    /// Blends `color` over the pixel with the given coverage (0…1); outside the image does nothing.
    public mutating func plot(_ x: Int, _ y: Int, _ color: Color, coverage: Double = 1) {
        guard x >= 0, y >= 0, x < width, y < height, coverage > 0 else { return }
        let i = (y * width + x) * 4
        let alpha = min(1, coverage) * Double(color.a) / 255
        func mix(_ old: UInt8, _ new: UInt8) -> UInt8 { UInt8((Double(old) * (1 - alpha) + Double(new) * alpha).rounded()) }
        pixels[i] = mix(pixels[i], color.r)
        pixels[i + 1] = mix(pixels[i + 1], color.g)
        pixels[i + 2] = mix(pixels[i + 2], color.b)
        pixels[i + 3] = max(pixels[i + 3], UInt8((alpha * 255).rounded()))
    }

    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ color: Color) {
        for yy in max(0, y)..<min(height, y + h) {
            for xx in max(0, x)..<min(width, x + w) { plot(xx, yy, color) }
        }
    }

    /// An anti-aliased line `thickness` pixels wide: each pixel near the segment is covered in
    /// proportion to how far inside the stroke it lies.
    public mutating func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, _ color: Color, thickness: Double = 1) {
        let half = thickness / 2
        let minX = Int((min(x0, x1) - half - 1).rounded(.down)), maxX = Int((max(x0, x1) + half + 1).rounded(.up))
        let minY = Int((min(y0, y1) - half - 1).rounded(.down)), maxY = Int((max(y0, y1) + half + 1).rounded(.up))
        let dx = x1 - x0, dy = y1 - y0, length2 = dx * dx + dy * dy
        for y in max(0, minY)...max(0, min(height - 1, maxY)) {
            for x in max(0, minX)...max(0, min(width - 1, maxX)) {
                let px = Double(x) + 0.5, py = Double(y) + 0.5
                let t = length2 == 0 ? 0 : max(0, min(1, ((px - x0) * dx + (py - y0) * dy) / length2))
                let ex = px - (x0 + t * dx), ey = py - (y0 + t * dy)
                let distance = (ex * ex + ey * ey).squareRoot()
                plot(x, y, color, coverage: half + 0.5 - distance)
            }
        }
    }

    /// A filled, anti-aliased disc.
    public mutating func disc(_ cx: Double, _ cy: Double, radius: Double, _ color: Color) {
        for y in Int(cy - radius - 1)...Int(cy + radius + 1) {
            for x in Int(cx - radius - 1)...Int(cx + radius + 1) {
                let ex = Double(x) + 0.5 - cx, ey = Double(y) + 0.5 - cy
                plot(x, y, color, coverage: radius + 0.5 - (ex * ex + ey * ey).squareRoot())
            }
        }
    }

    /// Text in the built-in bitmap font, top-left at (x, y), each font pixel `scale` pixels wide;
    /// `vertical` runs it bottom to top (an axis title).
    public mutating func text(_ string: String, x: Int, y: Int, scale: Int = 1, _ color: Color, vertical: Bool = false) {
        var pen = 0
        for character in string {
            let glyph = BitmapFont.glyph(character)
            for row in 0..<BitmapFont.height {
                for column in 0..<BitmapFont.width where glyph[row] & (1 << (BitmapFont.width - 1 - column)) != 0 {
                    let gx = pen + column, gy = row
                    let (px, py) = vertical ? (x + gy * scale, y - gx * scale - scale) : (x + gx * scale, y + gy * scale)
                    fill(x: px, y: py, width: scale, height: scale, color)
                }
            }
            pen += BitmapFont.advance
        }
    }
}

/// A 5×7 pixel font for chart labels: digits, lowercase letters (capitals are drawn as
/// lowercase), and the punctuation numbers and titles need; anything else is a small box.
public enum BitmapFont {
    public static let width = 5, height = 7, advance = 6

    public static func textWidth(_ string: String, scale: Int = 1) -> Int {
        string.isEmpty ? 0 : (string.count * advance - 1) * scale
    }

    /// Seven rows, the high bit of the low 5 bits leftmost.
    static func glyph(_ character: Character) -> [UInt8] {
        let key = Character(character.lowercased())
        return glyphs[key] ?? glyphs["\u{25A1}"]!
    }

    private static let glyphs: [Character: [UInt8]] = {
        var table: [Character: [UInt8]] = [:]
        for (character, art) in drawings {
            table[character] = art.split(separator: "|").map { row in
                row.reduce(UInt8(0)) { $0 << 1 | ($1 == "#" ? 1 : 0) }
            }
        }
        return table
    }()

    private static let drawings: [Character: String] = [
        " ": ".....|.....|.....|.....|.....|.....|.....",
        "0": ".###.|#...#|#..##|#.#.#|##..#|#...#|.###.",
        "1": "..#..|.##..|..#..|..#..|..#..|..#..|.###.",
        "2": ".###.|#...#|....#|...#.|..#..|.#...|#####",
        "3": "####.|....#|....#|.###.|....#|....#|####.",
        "4": "...#.|..##.|.#.#.|#..#.|#####|...#.|...#.",
        "5": "#####|#....|####.|....#|....#|#...#|.###.",
        "6": "..##.|.#...|#....|####.|#...#|#...#|.###.",
        "7": "#####|....#|...#.|..#..|.#...|.#...|.#...",
        "8": ".###.|#...#|#...#|.###.|#...#|#...#|.###.",
        "9": ".###.|#...#|#...#|.####|....#|...#.|.##..",
        ".": ".....|.....|.....|.....|.....|.##..|.##..",
        ",": ".....|.....|.....|.....|.##..|..#..|.#...",
        "-": ".....|.....|.....|.###.|.....|.....|.....",
        "+": ".....|..#..|..#..|#####|..#..|..#..|.....",
        ":": ".....|.##..|.##..|.....|.##..|.##..|.....",
        "(": "...#.|..#..|.#...|.#...|.#...|..#..|...#.",
        ")": ".#...|..#..|...#.|...#.|...#.|..#..|.#...",
        "/": ".....|....#|...#.|..#..|.#...|#....|.....",
        "_": ".....|.....|.....|.....|.....|.....|#####",
        "%": "##...|##..#|...#.|..#..|.#...|#..##|...##",
        "=": ".....|.....|#####|.....|#####|.....|.....",
        "a": ".....|.....|.###.|....#|.####|#...#|.####",
        "b": "#....|#....|#.##.|##..#|#...#|#...#|####.",
        "c": ".....|.....|.###.|#....|#....|#...#|.###.",
        "d": "....#|....#|.##.#|#..##|#...#|#...#|.####",
        "e": ".....|.....|.###.|#...#|#####|#....|.###.",
        "f": "..##.|.#..#|.#...|###..|.#...|.#...|.#...",
        "g": ".....|.####|#...#|#...#|.####|....#|.###.",
        "h": "#....|#....|#.##.|##..#|#...#|#...#|#...#",
        "i": "..#..|.....|.##..|..#..|..#..|..#..|.###.",
        "j": "...#.|.....|..##.|...#.|...#.|#..#.|.##..",
        "k": "#....|#....|#..#.|#.#..|##...|#.#..|#..#.",
        "l": ".##..|..#..|..#..|..#..|..#..|..#..|.###.",
        "m": ".....|.....|##.#.|#.#.#|#.#.#|#...#|#...#",
        "n": ".....|.....|#.##.|##..#|#...#|#...#|#...#",
        "o": ".....|.....|.###.|#...#|#...#|#...#|.###.",
        "p": ".....|.....|####.|#...#|####.|#....|#....",
        "q": ".....|.....|.##.#|#..##|.####|....#|....#",
        "r": ".....|.....|#.##.|##..#|#....|#....|#....",
        "s": ".....|.....|.###.|#....|.###.|....#|####.",
        "t": ".#...|.#...|###..|.#...|.#...|.#..#|..##.",
        "u": ".....|.....|#...#|#...#|#...#|#..##|.##.#",
        "v": ".....|.....|#...#|#...#|#...#|.#.#.|..#..",
        "w": ".....|.....|#...#|#...#|#.#.#|#.#.#|.#.#.",
        "x": ".....|.....|#...#|.#.#.|..#..|.#.#.|#...#",
        "y": ".....|.....|#...#|#...#|.####|....#|.###.",
        "z": ".....|.....|#####|...#.|..#..|.#...|#####",
        "\u{25A1}": ".....|#####|#...#|#...#|#...#|#####|.....",
    ]
}

/// PNG files: an RGBA image, deflated by the system's zlib (a loss curve is mostly background,
/// so it shrinks from megabytes to tens of kilobytes), with the CRC-32 of each chunk.
public enum PNGEncoder {
    public static func encode(_ raster: Raster) -> Data {
        var scanlines = [UInt8]()
        scanlines.reserveCapacity(raster.height * (raster.width * 4 + 1))
        let rowBytes = raster.width * 4
        for y in 0..<raster.height {
            scanlines.append(0)  // filter type None
            scanlines += raster.pixels[(y * rowBytes)..<((y + 1) * rowBytes)]
        }
        var header = [UInt8]()
        header += bigEndian(UInt32(raster.width)) + bigEndian(UInt32(raster.height))
        header += [8, 6, 0, 0, 0]  // 8 bits per channel, RGBA, deflate, adaptive filtering, no interlace
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        png += chunk("IHDR", header)
        png += chunk("IDAT", deflated(scanlines))
        png += chunk("IEND", [])
        return Data(png)
    }

    /// A zlib stream (header, deflate data, Adler-32) at the highest compression level.
    static func deflated(_ data: [UInt8]) -> [UInt8] {
        var size = compressBound(uLong(data.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        let status = compress2(&out, &size, data, uLong(data.count), Z_BEST_COMPRESSION)
        // With a buffer of compressBound's size, only a failed allocation inside zlib remains.
        precondition(status == Z_OK, "zlib compress2 failed (\(status))")
        return Array(out.prefix(Int(size)))
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + typed + bigEndian(crc32(typed))
    }

    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        UInt32(CZlib.crc32(0, bytes, uInt(bytes.count)))
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }
}

/// One cell of a benchmark's plain-text table: left-aligned in `width` columns, and followed by
/// at least one space so that a value wider than its column never runs into the next one.
public func tableCell(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

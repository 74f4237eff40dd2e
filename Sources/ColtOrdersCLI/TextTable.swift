/// Rows printed as aligned columns under a header, for people reading a terminal.
struct TextTable {
    var header: [String]
    var rows: [[String]] = []
    /// Cells longer than this are cut with `…`.
    var maxCellWidth = 60

    init(_ header: [String]) { self.header = header }

    mutating func append(_ row: [String]) { rows.append(row) }

    func render() -> String {
        let cells = ([header] + rows).map { row in
            row.map(TerminalText.safe).map { $0.count > maxCellWidth ? String($0.prefix(maxCellWidth - 1)) + "…" : $0 }
        }
        var widths = Array(repeating: 0, count: header.count)
        for row in cells {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ row: [String]) -> String {
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "  ")
        }
        var lines = [line(cells[0]), line(widths.map { String(repeating: "-", count: $0) })]
        lines += cells.dropFirst().map(line)
        return lines.joined(separator: "\n")
    }
}

import Foundation
import OrderStore

/// Plots drawn on the server as inline SVG: no script, no image requests, styled by the page's
/// stylesheet (classes, not inline styles, so the Content-Security-Policy needs no exception).
enum Chart {
    /// Orders accepted and completed per hour, as pairs of bars, with an hour or day scale.
    static func activity(_ hours: [HourlyActivity], window: ChartWindow) -> String {
        let width = 720.0, height = 200.0, left = 44.0, right = 8.0, top = 10.0, bottom = 24.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let accepted = hours.reduce(0) { $0 + $1.accepted }, completed = hours.reduce(0) { $0 + $1.completed }
        let peak = niceCeiling(hours.map { max($0.accepted, $0.completed) }.max() ?? 0)
        let slot = plotWidth / Double(max(hours.count, 1))
        var svg = """
            <p class="legend"><span class="accepted">■ accepted by Colt (\(accepted))</span><span class="completed">■ completed (\(completed))</span></p>
            <svg class="chart" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="\(escape("Orders per hour over the last \(window.rawValue): \(accepted) accepted, \(completed) completed"))">
            """
        for fraction in [0.0, 0.5, 1.0] {
            let y = top + plotHeight * (1 - fraction)
            svg += "<line class=\"axis\" x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(width - right))\" y2=\"\(f(y))\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(Int(Double(peak) * fraction))</text>"
        }
        for (index, hour) in hours.enumerated() {
            let x = left + Double(index) * slot
            let label = hour.hour.replacingOccurrences(of: "T", with: " ") + ":00"
            for (offset, count, kind) in [(0.05, hour.accepted, "accepted"), (0.5, hour.completed, "completed")] where count > 0 {
                let barHeight = max(1, plotHeight * Double(count) / Double(peak))
                svg += "<rect class=\"\(kind)\" x=\"\(f(x + slot * offset))\" y=\"\(f(top + plotHeight - barHeight))\" width=\"\(f(max(slot * 0.45, 0.6)))\" height=\"\(f(barHeight))\"><title>\(escape("\(label) UTC: \(count) \(kind)"))</title></rect>"
            }
            // An axis label every 3 hours over a day, at each midnight over a week.
            let hourOfDay = Int(hour.hour.suffix(2)) ?? 0
            if window == .day ? hourOfDay % 3 == 0 : hourOfDay == 0 {
                let text = window == .day ? "\(hour.hour.suffix(2)):00" : String(hour.hour.dropFirst(5).prefix(5))
                svg += "<text x=\"\(f(x))\" y=\"\(f(height - 6))\">\(escape(text))</text>"
            }
        }
        return svg + "</svg>"
    }

    /// Completed orders by time from first send to completion, as horizontal bars.
    static func completionTimes(_ times: CompletionTimes) -> String {
        let labels = ["< 1 min", "1–5 min", "5–15 min", "15–60 min", "1–4 h", "4–12 h", "12–24 h", "1–2 days", "2–5 days", "> 5 days"]
        let total = times.counts.reduce(0, +)
        guard total > 0 else { return "<p class=\"meta\">No order completed in this window.</p>" }
        let rowHeight = 22.0, left = 84.0, width = 720.0, right = 70.0
        let height = rowHeight * Double(times.counts.count) + 8
        let peak = Double(times.counts.max() ?? 1)
        let median = times.median.map { bin in
            "; median " + (bin.upper.map { "\(span(bin.lower)) to \(span($0))" } ?? "\(span(bin.lower)) or more")
        } ?? ""
        var svg = """
            <p class="legend"><span>\(total) completed\(escape(median))</span></p>
            <svg class="chart" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="\(escape("Time from first send to completion of \(total) orders\(median)"))">
            """
        for (index, count) in times.counts.enumerated() {
            let y = 4 + Double(index) * rowHeight
            let barWidth = count == 0 ? 0 : max(1, (width - left - right) * Double(count) / peak)
            svg += "<text x=\"\(f(left - 8))\" y=\"\(f(y + 15))\" text-anchor=\"end\">\(escape(labels[min(index, labels.count - 1)]))</text>"
            if count > 0 {
                svg += "<rect class=\"bar\" x=\"\(f(left))\" y=\"\(f(y + 3))\" width=\"\(f(barWidth))\" height=\"\(f(rowHeight - 7))\"><title>\(escape("\(labels[min(index, labels.count - 1)]): \(count)"))</title></rect>"
            }
            svg += "<text x=\"\(f(left + barWidth + 6))\" y=\"\(f(y + 15))\">\(count)</text>"
        }
        return svg + "</svg>"
    }

    /// `45 s`, `1.5 min`, `6 h`, `2 days`: a bin's bound in words.
    static func span(_ seconds: Int) -> String {
        func figure(_ value: Double) -> String {
            value == value.rounded() ? String(Int(value)) : String((value * 10).rounded() / 10)
        }
        if seconds < 60 { return "\(seconds) s" }
        if seconds < 3600 { return "\(figure(Double(seconds) / 60)) min" }
        if seconds < 86400 { return "\(figure(Double(seconds) / 3600)) h" }
        let days = Double(seconds) / 86400
        return "\(figure(days)) day\(days == 1 ? "" : "s")"
    }

    /// Text made safe inside SVG/HTML elements and attributes.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// 1, 2 or 5 times a power of ten, at least `value` (and at least 1).
    static func niceCeiling(_ value: Int) -> Int {
        var scale = 1
        while true {
            for step in [1, 2, 5] where step * scale >= value { return step * scale }
            scale *= 10
        }
    }

    private static func f(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}

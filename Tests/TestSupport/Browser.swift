import Foundation

/// A real browser for the web page's tests: Debian's headless Chromium loads a page and gives
/// back the DOM it built, or a screenshot that Tesseract (OCR) reads back as text. Both are
/// installed by `scripts/install-deps --browser` (which scripts/test runs).
public struct Browser: Sendable {
    public static let chromium = "/usr/bin/chromium"
    public static let tesseract = "/usr/bin/tesseract"

    let directory: TemporaryDirectory

    /// - Throws: when Chromium or Tesseract is missing, saying how to install them.
    public init(directory: TemporaryDirectory) throws {
        for tool in [Self.chromium, Self.tesseract] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw TestFailure("\(tool) is missing: the web page's tests run in a real browser; install chromium and tesseract-ocr (scripts/install-deps --browser does; scripts/test runs it)")
        }
        self.directory = directory
    }

    private func arguments(width: Int, height: Int) -> [String] {
        // Each call gets its own profile, so parallel tests never share one.
        let profile = directory.file("chromium-\(UUID().uuidString)")
        // --disable-dev-shm-usage: containers often have a small /dev/shm, which crashes Chromium.
        return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", "--no-first-run", "--disable-extensions",
                "--user-data-dir=\(profile)", "--window-size=\(width),\(height)", "--force-device-scale-factor=2"]
    }

    /// The page's DOM after the browser parsed it, serialised (`--dump-dom`).
    public func dom(_ url: String) throws -> String {
        let result = try run(Self.chromium, arguments(width: 1280, height: 1000) + ["--dump-dom", url])
        guard result.status == 0, result.stdout.contains("<html") else {
            throw TestFailure("chromium could not load \(url): status \(result.status)\n\(result.stderr.suffix(2000))")
        }
        return result.stdout
    }

    /// A PNG screenshot of the page, kept in the test's directory as `name`.png.
    @discardableResult
    public func screenshot(_ url: String, name: String, width: Int = 1280, height: Int = 1600) throws -> String {
        let file = directory.file("\(name).png")
        let result = try run(Self.chromium, arguments(width: width, height: height) + ["--screenshot=\(file)", url])
        guard result.status == 0, let size = try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int, size > 1000 else {
            throw TestFailure("chromium took no screenshot of \(url): status \(result.status)\n\(result.stderr.suffix(2000))")
        }
        return file
    }

    /// The text Tesseract reads in an image, line by line across the page (`--psm 6`, so a
    /// table's cells come out on their row's line), with runs of spaces made one. Screenshots
    /// are taken at twice the pixels per CSS pixel, which OCR needs for small text.
    public func text(in image: String) throws -> String {
        let result = try run(Self.tesseract, [image, "-", "--psm", "6"])
        guard result.status == 0 else { throw TestFailure("tesseract failed on \(image): \(result.stderr)") }
        return result.stdout.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }
}

// swift-tools-version: 6.1
// The libFuzzer binary for Zonal's parsers. Kept in its own package so that the main build
// never links it; run a parser with `Fuzz/run TARGET`.
import PackageDescription

let package = Package(
    name: "zonal-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "zonal", path: "..")],
    targets: [
        .executableTarget(
            name: "ZonalFuzz",
            dependencies: [.product(name: "ZonalTesting", package: "zonal")]
        ),
    ]
)

// swift-tools-version: 6.1
// libFuzzer targets for Zonal's parsers. Kept in their own package so that the main build
// never links them; run them with `Fuzz/run TARGET`.
import PackageDescription

let package = Package(
    name: "zonal-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "zonal", path: "..")],
    targets: [
        .executableTarget(
            name: "HTTPFrontFuzz",
            dependencies: [.product(name: "ZonalBalancer", package: "zonal")]
        ),
    ]
)

import Foundation
import Synchronization
import ZonalCore

/// A misbehaviour switched on at run time for drills: the backend answers slowly, or fails.
public enum Fault: Sendable, Hashable, CustomStringConvertible {
    case none
    /// Every response, `/health` included, waits this long first.
    case slow(Duration)
    /// Every response, `/health` included, has this status (5xx) instead of its own.
    case failing(status: Int)

    public var description: String {
        switch self {
        case .none: "none"
        case .slow(let delay): "slow \(delay.zonalDescription)"
        case .failing(let status): "failing with \(status)"
        }
    }
}

extension Fault: Codable {
    private enum CodingKeys: String, CodingKey { case mode, delay, status }

    /// JSON form: `{"mode": "none"}`, `{"mode": "slow", "delay": "500ms"}`, `{"mode": "fail", "status": 503}`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let mode = try container.decode(String.self, forKey: .mode)
        switch mode {
        case "none":
            self = .none
        case "slow":
            let text = try container.decode(String.self, forKey: .delay)
            guard let delay = Duration(configText: text) else {
                throw DecodingError.dataCorruptedError(forKey: .delay, in: container, debugDescription: "delay must look like 500ms or 2s, got \"\(text)\"")
            }
            self = .slow(delay)
        case "fail":
            let status = try container.decodeIfPresent(Int.self, forKey: .status) ?? 503
            guard (500...599).contains(status) else {
                throw DecodingError.dataCorruptedError(forKey: .status, in: container, debugDescription: "status must be from 500 to 599, got \(status)")
            }
            self = .failing(status: status)
        default:
            throw DecodingError.dataCorruptedError(forKey: .mode, in: container, debugDescription: "mode must be none, slow or fail, got \"\(mode)\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .none:
            try container.encode("none", forKey: .mode)
        case .slow(let delay):
            try container.encode("slow", forKey: .mode)
            try container.encode(delay.zonalDescription, forKey: .delay)
        case .failing(let status):
            try container.encode("fail", forKey: .mode)
            try container.encode(status, forKey: .status)
        }
    }
}

/// The current fault of one backend, shared by its request handlers.
public final class FaultSwitch: Sendable {
    private let current: Mutex<Fault>

    public init(_ initial: Fault = .none) {
        current = Mutex(initial)
    }

    public var fault: Fault {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }
}

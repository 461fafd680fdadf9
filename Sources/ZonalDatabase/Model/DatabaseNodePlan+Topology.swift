import Foundation
import ZonalCore

extension DatabaseNodePlan {
    /// The plan of `node`'s agent in database service `service`. Data directories default to
    /// `<stateDirectory>/<service>/<node>/data`, made absolute.
    public init(topology: Topology, service name: String, node nodeName: String, stateDirectory: String) throws {
        guard let service = topology.services.first(where: { $0.name == name }) else {
            throw DatabaseError.query("the topology has no service named \(name)")
        }
        guard case .postgres(let spec) = service.kind else {
            throw DatabaseError.query("service \(name) is of kind \(service.kind.name), not postgres")
        }
        guard service.nodes.contains(nodeName) else {
            throw DatabaseError.query("service \(name) has no instance on node \(nodeName); its nodes: \(service.nodes.joined(separator: ", "))")
        }
        let endpoints = service.nodes.compactMap { nodeName -> Endpoint? in
            guard let node = topology.node(named: nodeName) else { return nil }
            return Endpoint(
                name: node.name, zone: node.zone, host: node.address, port: service.port, apiPort: service.adminPort ?? service.port + 1,
                promotable: !spec.noFailover.contains(node.name))
        }
        let base = URL(fileURLWithPath: stateDirectory).standardizedFileURL.path
        let template = spec.dataDirectory ?? "\(base)/{service}/{node}/data"
        let dataDirectory = URL(fileURLWithPath: template.replacingOccurrences(of: "{service}", with: name).replacingOccurrences(of: "{node}", with: nodeName))
            .standardizedFileURL.path
        let me = endpoints.first { $0.name == nodeName }!
        let backup = try spec.backup.map { backup throws(DatabaseError) in
            try BackupDestination(backup, service: name, topology: topology, zone: me.zone, stateDirectory: stateDirectory)
        }
        self.init(
            service: name,
            me: me,
            peers: endpoints.filter { $0.name != nodeName },
            settings: spec.failover,
            dataDirectory: dataDirectory,
            serverLogFile: (dataDirectory as NSString).deletingLastPathComponent + "/postgresql.log",
            binDirectory: spec.binDirectory ?? DatabaseNodePlan.defaultBinDirectory,
            backup: backup,
            parameters: spec.parameters,
            passwordFile: Self.passwordFile(service: name, stateDirectory: stateDirectory))
    }

    /// Where the cluster password of `service` lives under a state directory.
    public static func passwordFile(service: String, stateDirectory: String) -> String {
        "\(URL(fileURLWithPath: stateDirectory).standardizedFileURL.path)/\(service)/postgres.password"
    }
}

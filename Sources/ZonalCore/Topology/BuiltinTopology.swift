/// Topologies compiled into the binary, so `zonal up` works with no file at hand.
public enum BuiltinTopology {
    /// The quickstart topology; the same text as `examples/quickstart.yaml` (a test keeps them equal).
    public static let quickstartYAML = """
        # The default topology of `zonal up`: two regions, three zones in the first and one in the
        # second. On one machine every node is a loopback address of its own, so each zone's services
        # listen on the same ports without clashing.
        name: quickstart

        coordinator:
          backend: embedded

        supervisor:
          control_port: 7300
          restart:
            initial_backoff: 200ms
            max_backoff: 30s
            stable_after: 10s

        regions:
          - name: east
            zones: [east-a, east-b, east-c]
          - name: west
            zones: [west-a]

        nodes:
          - { name: east-a-1, zone: east-a, address: 127.0.1.1 }
          - { name: east-b-1, zone: east-b, address: 127.0.2.1 }
          - { name: east-c-1, zone: east-c, address: 127.0.3.1 }
          - { name: west-a-1, zone: west-a, address: 127.0.4.1 }

        services:
          # The sample application backend, one instance per zone. Traffic prefers east-a and fails
          # over to east-b only when east-a has no healthy instance at all.
          - name: web
            kind: app
            zones: [east-a, east-b, east-c, west-a]
            port: 8080
            admin_port: 9080
            primary_zone: east-a
            secondary_zone: east-b
            health:
              http: { path: /health, status: 200 }
              interval: 1s
              timeout: 800ms
              rise: 2
              fall: 2

          # The load balancer clients use, one instance in each zone, so losing a zone loses one entry
          # point, not the service. HTTP on port 8000 in front of `web`: requests go to the primary
          # zone's servers and move to the secondary zone only when none is healthy. PostgreSQL on 5000
          # (writes: always the current primary) and 5001 (reads: the replicas). S3 on 8900.
          - name: lb
            kind: balancer
            zones: [east-a, east-b, east-c, west-a]
            port: 8000
            admin_port: 9000
            balancer:
              listeners:
                - { name: http, port: 8000, pool: web }
                - { name: db-write, port: 5000, mode: tcp, pool: db-primary }
                - { name: db-read, port: 5001, mode: tcp, pool: db-replicas }
                - { name: s3, port: 8900, mode: tcp, pool: s3 }
              pools:
                - name: web
                  service: web
                - { name: db-primary, service: db, role: primary }
                - { name: db-replicas, service: db, role: replica }
                - { name: s3, service: s3 }

          # PostgreSQL 15, edition `ha`: a primary and a standby in two zones. The agents fail over in
          # seconds when the primary is lost and rejoin the old primary as a standby when it returns.
          - name: db
            kind: postgres
            zones: [east-a, east-b]
            port: 5432
            admin_port: 8008
            database:
              edition: ha
              # WAL archived and a base backup every 24 h into the object store below (bucket `backups`,
              # replicated to west): zonal db restore --to-time … --into DIR rebuilds any moment since.
              backup: { target: "store:objects/backups/db" }

          # Redis 7, a master and a replica in two zones (AOF on, fsync every second). The agents fail
          # over in about a second when the master is lost; Sentinel clients find it on port 26379.
          - name: cache
            kind: redis
            zones: [east-a, east-b]
            port: 6379
            admin_port: 6400

          # The RESP proxy clients use, one per zone: always the current master, with the cache's
          # password. Try: redis-cli -h 127.0.1.1 -p 6390 --askpass
          - name: cache-proxy
            kind: redis-proxy
            zones: [east-a, east-b]
            port: 6390
            admin_port: 6391
            proxy:
              cache: cache

          # Zone-redundant object storage: a storage node in each of east's three zones keeps one replica
          # of every object; a write is acknowledged once two are on disk, so a zone can be lost. The
          # bucket `backups` is replicated to west (made there when missing), deletes included, so a
          # lost region loses at most the replication lag: zonal objects replication status.
          - name: objects
            kind: object-store
            zones: [east-a, east-b, east-c]
            port: 9100
            admin_port: 9101
            objects:
              replication:
                - { name: backups-to-west, bucket: backups, to_store: objects-west, deletes: true }

          # The S3 front ends, one per zone, behind the balancer's port 8900. Credentials:
          # eval "$(zonal objects credentials)"; aws --endpoint-url http://127.0.1.1:8900 --region east s3 ls
          - name: s3
            kind: s3
            zones: [east-a, east-b, east-c]
            port: 9200
            admin_port: 9201
            s3:
              store: objects

          # The disaster-recovery copy in region west: one storage node (one replica) and its front end.
          # Credentials: eval "$(zonal objects credentials --service objects-west)"
          - name: objects-west
            kind: object-store
            zones: [west-a]
            port: 9100
            admin_port: 9101
            objects: { replicas: 1, write_quorum: 1 }

          - name: s3-west
            kind: s3
            zones: [west-a]
            port: 9200
            admin_port: 9201
            s3:
              store: objects-west

          # Failover DNS for zonal.test, one server per region: www.zonal.test answers with the healthy
          # balancers of region east, and with west's only when none of east's is left.
          # Try: dig @127.0.4.1 -p 5300 www.zonal.test
          - name: dns
            kind: dns
            nodes: [east-a-1, west-a-1]
            port: 5300
            admin_port: 9053
            dns:
              zones:
                - name: zonal.test
              records:
                - name: www.zonal.test
                  ttl: 30s
                  pools:
                    - { name: east, service: lb, region: east }
                    - { name: west, service: lb, region: west }
                  health:
                    tcp: { port: 8000 }
                    interval: 500ms
                    timeout: 400ms
                    rise: 2
                    fall: 2
        """

    /// The parsed quickstart topology.
    public static func quickstart() throws(TopologyError) -> Topology {
        try TopologyLoader.parse(quickstartYAML, file: "<built-in quickstart>")
    }
}

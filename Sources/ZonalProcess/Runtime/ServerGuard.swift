#if canImport(Glibc)
    import Foundation
    import Glibc

    /// The process between an agent and its server (`zonal guard`): it stops the server at once
    /// with `stopSignal` (SIGQUIT, PostgreSQL's immediate shutdown; SIGKILL for Redis) when the
    /// agent dies, even by SIGKILL.
    ///
    /// A server left running by a dead agent would stay a primary that nobody fences while a standby
    /// is promoted. The kernel's parent-death signal cannot be put on the server itself: it is
    /// dropped when a process execs after changing its user, which starting PostgreSQL as `postgres`
    /// from a root agent does, and no process API here runs code between fork and exec. The guard
    /// never execs, so its own parent-death signal holds; it relays it to the server and ends with
    /// the server's status.
    public enum ServerGuard {
        /// Runs `command` under guard; never returns.
        public static func run(_ command: [String], parent: pid_t, stopSignal: Int32) -> Never {
            signal(SIGTERM, SIG_IGN)
            signal(SIGINT, SIG_IGN)
            guard ParentDeathSignal.arm(SIGTERM, parent: parent) else {
                FileHandle.standardError.write(Data("zonal guard: the agent is already gone; not starting the server\n".utf8))
                exit(1)
            }
            let server = Process()
            server.executableURL = URL(fileURLWithPath: command[0])
            server.arguments = Array(command.dropFirst())
            do {
                try server.run()
            } catch {
                FileHandle.standardError.write(Data("zonal guard: cannot start \(command[0]): \(error)\n".utf8))
                exit(1)
            }
            let pid = server.processIdentifier
            let stop = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
            stop.setEventHandler { kill(pid, stopSignal) }
            stop.resume()
            let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
            interrupt.setEventHandler { kill(pid, stopSignal) }
            interrupt.resume()
            server.waitUntilExit()
            exit(server.terminationReason == .exit ? server.terminationStatus : 128 + server.terminationStatus)
        }
    }
#endif

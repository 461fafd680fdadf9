import Foundation
import Logging
import ZonalCore

/// Aborts the multipart uploads nobody completed or aborted within `expiry` of their start,
/// in every bucket (S3's AbortIncompleteMultipartUpload as a store-wide rule), so their parts do
/// not hold disk for ever. Every front end sweeps; removing the upload's record is the claim,
/// so each upload is aborted once, and never while it is being completed.
struct UploadExpiry: Sendable {
    let uploads: MultipartUploads
    let objects: ReplicatedObjects
    let expiry: Duration
    let clock: any ZonalClock
    let logger: Logger

    /// Sweeps every tenth of the expiry (at least a second, at most an hour) until cancelled.
    func run() async {
        let pause = min(max(expiry / 10, .seconds(1)), .seconds(3600))
        while !Task.isCancelled {
            _ = await sweep(now: Date())
            guard (try? await clock.sleep(for: pause)) != nil else { return }
        }
    }

    /// Aborts the uploads started more than `expiry` before `now`; returns how many.
    func sweep(now: Date) async -> Int {
        guard let all = try? await uploads.everyUpload() else { return 0 }
        let cutoff = now.addingTimeInterval(-Double(expiry.components.seconds))
        var aborted = 0
        for upload in all where upload.initiated < cutoff {
            guard (try? await uploads.remove(upload)) == true else { continue }
            await objects.removeKeys(bucket: ObjectVersion.uploadsNamespace(of: upload.bucket), prefix: "\(upload.id)/")
            logger.notice(
                "aborted a multipart upload nobody completed",
                metadata: ["bucket": "\(upload.bucket)", "key": "\(upload.key)", "upload": "\(upload.id)", "initiated": "\(upload.initiated)"])
            aborted += 1
        }
        return aborted
    }
}

package ugm.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;

/**
 * What tells one state of a file from another: the file itself (device and inode), its size, and
 * its modification and status-change times. Writing a file, in place at the same size too,
 * moves both times; renaming another file over the name changes the inode; the status-change
 * time cannot be set back by a user. A change within one tick of the file system's clock after
 * the identity was taken can go unseen.
 */
record FileIdentity(Object file, long size, Object modified, Object changed) {

    /** The identity of {@code path} now, or null when it cannot be read (gone, no permission). */
    static FileIdentity of(Path path) {
        try {
            Map<String, Object> a = Files.readAttributes(path, "unix:dev,ino,size,lastModifiedTime,ctime");
            return new FileIdentity(a.get("dev") + ":" + a.get("ino"), (Long) a.get("size"), a.get("lastModifiedTime"),
                    a.get("ctime"));
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            return basic(path); // no unix attribute view on this file system
        } catch (IOException e) {
            return null;
        }
    }

    private static FileIdentity basic(Path path) {
        try {
            BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class);
            return new FileIdentity(a.fileKey(), a.size(), a.lastModifiedTime(), null);
        } catch (IOException e) {
            return null;
        }
    }
}

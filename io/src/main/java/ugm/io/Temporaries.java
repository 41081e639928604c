package ugm.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The temporary files and folders of this JVM's unfinished outputs ({@link OutputFolder},
 * {@link SafetensorsWriter}), removed when the JVM shuts down before they are published: on
 * Ctrl-C, SIGTERM or {@code System.exit} during a merge. (A {@code kill -9} runs nothing; the
 * temporaries' names mark them, and the next run into the same target removes them.)
 *
 * <p>After {@link #removeAll()} nothing can be published any more: publishing and removal
 * take one lock, so an output is either renamed into place whole or removed whole.
 */
public final class Temporaries {

    private static final Object LOCK = new Object();
    private static final Set<Path> LIVE = new LinkedHashSet<>();
    /** Everything removed so far, for whichever shutdown hook reports it. */
    private static final List<Path> REMOVED = new ArrayList<>();
    private static boolean hookInstalled;
    private static boolean shuttingDown;

    private Temporaries() {
    }

    static void register(Path p) {
        synchronized (LOCK) {
            if (!hookInstalled) {
                hookInstalled = true;
                try {
                    Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("ugm-temporaries").unstarted(Temporaries::removeAll));
                } catch (IllegalStateException alreadyShuttingDown) {
                    // removeAll() below or the caller's own cleanup takes care of it
                }
            }
            LIVE.add(p.toAbsolutePath());
        }
    }

    static void unregister(Path p) {
        synchronized (LOCK) {
            LIVE.remove(p.toAbsolutePath());
        }
    }

    /**
     * Runs {@code publish} (a rename into place) unless the JVM is shutting down, and unregisters
     * {@code temp}, under the lock {@link #removeAll()} takes.
     *
     * @throws ugm.core.UgmException of kind IO when shutdown has begun
     */
    static void publishing(Path temp, IORunnable publish) throws IOException {
        synchronized (LOCK) {
            if (shuttingDown) {
                throw new ugm.core.UgmException(ugm.core.UgmException.Kind.IO, "interrupted; " + temp + " was removed");
            }
            publish.run();
            LIVE.remove(temp.toAbsolutePath());
        }
    }

    /** A rename or similar step that may fail. */
    @FunctionalInterface
    interface IORunnable {
        void run() throws IOException;
    }

    /**
     * Removes every registered temporary now, and refuses later publications. Safe to call from
     * a shutdown hook while workers still write into the files (they are unlinked; the mappings
     * stay valid until the JVM ends).
     *
     * @return every path removed so far by this method
     */
    public static List<Path> removeAll() {
        synchronized (LOCK) {
            shuttingDown = true;
            for (Path p : LIVE) {
                try {
                    if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) { // a writer's file inside a removed folder is gone already
                        OutputFolder.deleteTree(p);
                        REMOVED.add(p);
                    }
                } catch (IOException | RuntimeException e) {
                    // Best effort at shutdown; the name marks it for the next run.
                }
            }
            LIVE.clear();
            return List.copyOf(REMOVED);
        }
    }
}

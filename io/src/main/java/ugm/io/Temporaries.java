package ugm.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import ugm.core.UgmException;

/**
 * The temporary files and folders of this JVM's unfinished outputs ({@link OutputFolder},
 * {@link SafetensorsWriter}, {@link ShardedWriter}), removed when the JVM shuts down before they
 * are published: on Ctrl-C, SIGTERM or {@code System.exit} during a merge. (A {@code kill -9} runs
 * nothing; the temporaries' names mark them, and the next run into the same target removes them.)
 *
 * <p>Every change to what is on disk for an unpublished output (creating a temporary, adding a
 * file or folder to one, publishing or deleting it) is a <em>step</em>: steps of any threads
 * run concurrently, but {@link #removeAll()} waits for the steps in flight, and once it has
 * begun no step runs any more (they throw). So the removal never races a thread
 * that is adding to the folder being removed, and nothing is published or recreated after it.
 * Writing into an already mapped file is not a step: the files are unlinked, and the mappings
 * stay valid until the JVM ends.
 *
 * <p>Thread-safe (see above); {@link #removeAll()} is for a process that handles its own interruption, as the command line does.
 */
public final class Temporaries {

    /** Read side: steps; write side: the removal. */
    private static final ReadWriteLock LOCK = new ReentrantReadWriteLock();
    /** Registered temporaries, oldest first; guarded by itself. */
    private static final Set<Path> LIVE = new LinkedHashSet<>();
    /** Everything removed by {@link #removeAll()}, for whichever shutdown hook reports it; guarded by the write lock. */
    private static final List<Path> REMOVED = new ArrayList<>();
    private static volatile boolean removing;
    private static boolean hookInstalled;

    private Temporaries() {
    }

    /** One change to the files of an unpublished output. */
    @FunctionalInterface
    interface IORunnable {
        void run() throws IOException;
    }

    /** One change to the files of an unpublished output that returns something (an open channel). */
    @FunctionalInterface
    interface IOSupplier<T> {
        T get() throws IOException;
    }

    /**
     * Runs {@code create}, which creates the temporary {@code path}, and registers it, as one step.
     *
     * @throws UgmException of kind IO when the removal has begun (nothing is created then)
     */
    static <T> T create(Path path, IOSupplier<T> create) throws IOException {
        installHook(path);
        LOCK.readLock().lock();
        try {
            refuseWhenRemoving("not creating " + path);
            T t = create.get();
            synchronized (LIVE) {
                LIVE.add(path.toAbsolutePath());
            }
            return t;
        } finally {
            LOCK.readLock().unlock();
        }
    }

    /**
     * Runs {@code step}, which adds a file or folder to an unpublished output ({@code where}),
     * unless the removal has begun.
     *
     * @throws UgmException of kind IO when the removal has begun
     */
    static void step(Path where, IORunnable step) throws IOException {
        LOCK.readLock().lock();
        try {
            refuseWhenRemoving("not writing into " + where);
            step.run();
        } finally {
            LOCK.readLock().unlock();
        }
    }

    /**
     * Runs {@code publish} (a rename into place) and unregisters {@code temp}, as one step.
     *
     * @throws UgmException of kind IO when the removal has begun (then {@code temp} is gone)
     */
    static void publishing(Path temp, IORunnable publish) throws IOException {
        LOCK.readLock().lock();
        try {
            refuseWhenRemoving(temp + " was removed");
            publish.run();
            unregister(temp);
        } finally {
            LOCK.readLock().unlock();
        }
    }

    /** Runs {@code delete}, which removes the temporary {@code temp}, and unregisters it, as one step. */
    static void discarding(Path temp, IORunnable delete) throws IOException {
        LOCK.readLock().lock();
        try {
            delete.run();
        } finally {
            unregister(temp);
            LOCK.readLock().unlock();
        }
    }

    /** Registers {@code p}, made a temporary by the step that calls this (a replaced output moved aside). */
    static void adopt(Path p) {
        synchronized (LIVE) {
            LIVE.add(p.toAbsolutePath());
        }
    }

    private static void unregister(Path p) {
        synchronized (LIVE) {
            LIVE.remove(p.toAbsolutePath());
        }
    }

    private static void refuseWhenRemoving(String what) {
        if (removing) {
            throw new UgmException(UgmException.Kind.IO, "interrupted; " + what);
        }
    }

    /** The shutdown hook that removes what is left; refuses to create a temporary when it is too late to install it. */
    private static synchronized void installHook(Path path) {
        if (hookInstalled) {
            return;
        }
        try {
            Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("ugm-temporaries").unstarted(Temporaries::removeAll));
        } catch (IllegalStateException shuttingDown) {
            throw new UgmException(UgmException.Kind.IO, "the JVM is shutting down; not creating " + path);
        }
        hookInstalled = true;
    }

    /**
     * Removes every registered temporary now, once the steps in flight have ended, and refuses
     * every later step. Safe to call from a shutdown hook while workers still write into the
     * mapped files.
     *
     * @return every path removed so far by this method (a temporary inside another is not listed)
     */
    public static List<Path> removeAll() {
        LOCK.writeLock().lock();
        try {
            removing = true;
            List<Path> live;
            synchronized (LIVE) {
                live = new ArrayList<>(LIVE);
                LIVE.clear();
            }
            live.sort(Comparator.comparingInt(Path::getNameCount)); // a folder before the files in it
            for (Path p : live) {
                if (Files.exists(p, LinkOption.NOFOLLOW_LINKS) && remove(p)) {
                    REMOVED.add(p);
                }
            }
            return List.copyOf(REMOVED);
        } finally {
            LOCK.writeLock().unlock();
        }
    }

    /** Deletes {@code p} and everything in it; a few attempts, as it may be on a file system that needs them. */
    private static boolean remove(Path p) {
        for (int attempt = 0; attempt < 3; attempt++) {
            try {
                OutputFolder.deleteTree(p);
            } catch (IOException | RuntimeException e) {
                // Best effort at shutdown; tried again below, and the name marks it for the next run.
            }
            if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
                return true;
            }
        }
        return false;
    }
}

package ugm.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import ugm.io.SafetensorsException.Rule;

/**
 * Where a shard named by an index really is. The name itself is checked lexically (no absolute
 * path, no way out through {@code ..}); this follows symbolic links, so a link inside the folder
 * that points elsewhere is refused too. One layout is allowed: a Hugging Face cache snapshot
 * ({@code <repo>/snapshots/<revision>/}, and the folders in it), whose files are links into that
 * same repository's {@code <repo>/blobs/}. The model's other files ({@link ModelFiles}) follow the same rule.
 */
final class ShardLinks {

    private ShardLinks() {
    }

    /** @throws SafetensorsException (SHARD_OUTSIDE_FOLDER) when {@code shard} resolves outside {@code folder} */
    static void requireInside(Path folder, Path index, String name, Path shard, String tensor) {
        Path realFolder;
        Path realShard;
        try {
            realFolder = folder.toRealPath();
            realShard = shard.toRealPath();
        } catch (IOException e) {
            throw Messages.io(shard, "cannot resolve", e);
        }
        if (allowed(realFolder, realShard)) {
            return;
        }
        throw new SafetensorsException(Rule.SHARD_OUTSIDE_FOLDER, index.toString(), tensor,
                "shard \"" + name + "\" is a link to " + realShard + ", outside the checkpoint folder; refused");
    }

    /**
     * Whether a file reached from {@code realFolder} (both real paths, links resolved) may be read
     * as part of it: it is inside it, or the folder is a Hugging Face cache snapshot and the file is
     * in its own repository's {@code blobs/}. Shards and the model's other files ({@link ModelFiles})
     * follow this one rule.
     */
    static boolean allowed(Path realFolder, Path realFile) {
        return realFile.startsWith(realFolder) || inHuggingFaceBlobs(realFolder, realFile);
    }

    /**
     * A folder in {@code <repo>/snapshots/<rev>} (that folder or one inside it, such as a model's
     * {@code hessian/}) and a file in {@code <repo>/blobs/}.
     */
    static boolean inHuggingFaceBlobs(Path realFolder, Path realShard) {
        for (Path rev = realFolder; rev.getParent() != null; rev = rev.getParent()) {
            Path snapshots = rev.getParent();
            if (snapshots.getFileName() != null && snapshots.getFileName().toString().equals("snapshots")) {
                Path repo = snapshots.getParent();
                return repo != null && realShard.getParent() != null && realShard.getParent().equals(repo.resolve("blobs"))
                        && Files.isRegularFile(realShard);
            }
        }
        return false;
    }
}

package ugm.io;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import ugm.core.UgmException;

/**
 * A model reference of the form {@code BASE+ADAPTER}, as mergekit writes one: the base checkpoint
 * with a PEFT LoRA adapter folder applied ({@link LoraAdapter}). A path that exists as written is
 * one model even when its name holds a {@code +}; otherwise the reference splits at the
 * {@code +} whose two sides both exist (at the only {@code +} when none does, so that the
 * missing side is named in the error).
 */
public record AdapterRef(Path base, Path adapter) {

    /** How a reference is written: {@code BASE+ADAPTER}. */
    @Override
    public String toString() {
        return base + "+" + adapter;
    }

    /** {@link #parse(Path, String)} relative to the working directory. */
    public static AdapterRef parse(Path ref) {
        return parse(null, ref.toString());
    }

    /**
     * The base and adapter {@code ref} names, each resolved against {@code dir} (null: as written),
     * or null when {@code ref} names one model: it exists as written, or has no {@code +}.
     *
     * @throws UgmException of kind USAGE when more than one {@code +} could split it
     */
    public static AdapterRef parse(Path dir, String ref) {
        if (exists(dir, ref) || ref.indexOf('+') < 0) {
            return null;
        }
        List<Integer> splits = new ArrayList<>();
        List<Integer> plus = new ArrayList<>();
        for (int i = ref.indexOf('+'); i >= 0; i = ref.indexOf('+', i + 1)) {
            plus.add(i);
            if (exists(dir, ref.substring(0, i)) && exists(dir, ref.substring(i + 1))) {
                splits.add(i);
            }
        }
        if (splits.size() > 1) {
            throw new UgmException(UgmException.Kind.USAGE, "'" + ref + "' splits into a base and an adapter at more than one '+'");
        }
        if (splits.isEmpty() && plus.size() > 1) {
            return null; // no split names two existing paths: the whole, missing, is reported
        }
        int at = splits.isEmpty() ? plus.getFirst() : splits.getFirst();
        return new AdapterRef(resolve(dir, ref.substring(0, at)), resolve(dir, ref.substring(at + 1)));
    }

    /**
     * Opens the checkpoint {@code ref} names: a base with an adapter applied
     * ({@link Checkpoint#open(Path, Path)}), or one checkpoint ({@link Checkpoint#open(Path)}).
     */
    public static Checkpoint open(Path ref) {
        AdapterRef r = parse(ref);
        return r == null ? Checkpoint.open(ref) : Checkpoint.open(r.base(), r.adapter());
    }

    /**
     * Where a model's diagonal Fisher is looked for when none is given: {@code <model>/hessian},
     * and for {@code BASE+ADAPTER} the adapter folder's {@code hessian} (the Fisher of the adapted
     * model, not of the base).
     */
    public static Path fisherFolder(Path model) {
        AdapterRef r = parse(model);
        return (r == null ? model : r.adapter()).resolve(Checkpoint.FISHER_FOLDER);
    }

    /** The folder of the model's other files (config.json, tokenizer): the base's for {@code BASE+ADAPTER}. */
    public static Path modelFolder(Path model) {
        AdapterRef r = parse(model);
        return r == null ? model : r.base();
    }

    private static boolean exists(Path dir, String path) {
        if (path.isEmpty()) {
            return false;
        }
        try {
            return Files.exists(resolve(dir, path));
        } catch (InvalidPathException e) {
            return false;
        }
    }

    private static Path resolve(Path dir, String path) {
        return dir == null ? Path.of(path) : dir.resolve(path).normalize();
    }
}

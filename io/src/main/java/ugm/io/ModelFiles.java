package ugm.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import ugm.core.UgmException;

/**
 * The model's other files in a checkpoint folder (config, tokenizer, generation config, ...), to be
 * copied into an output by {@link OutputFolder#copyModelFiles(ModelFiles, ugm.core.DType)}. Chosen
 * and checked by {@link #scan} before any long work:
 * <ul>
 *   <li>top-level files that are not weights, not hidden and not folders;</li>
 *   <li>only what is really in the folder: a symbolic link is followed only where a shard's may be
 *       ({@link ShardLinks}: to a file inside the folder, or from a Hugging Face cache snapshot into
 *       its own {@code blobs/}); a link elsewhere, a broken link and anything but a regular file
 *       are skipped, each with a warning;</li>
 *   <li>{@code config.json} must be JSON as transformers reads it (one object; Python's
 *       {@code NaN} and {@code Infinity} allowed), or the scan fails.</li>
 * </ul>
 *
 * <p>Immutable once made.
 */
public final class ModelFiles {

    static final String CONFIG = "config.json";

    /** As Python's json module reads: NaN and Infinity are numbers. Written back the same way. */
    static final JsonFactory JSON = JsonFactory.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .disable(JsonWriteFeature.WRITE_NAN_AS_STRINGS)
            .build();

    /** One file to copy: its name in the output, and the regular file to read (a link's target). */
    record Source(String name, Path path, Path read) {
    }

    private final Path folder;
    private final List<Source> sources;
    private final List<String> warnings;

    private ModelFiles(Path folder, List<Source> sources, List<String> warnings) {
        this.folder = folder;
        this.sources = List.copyOf(sources);
        this.warnings = List.copyOf(warnings);
    }

    /**
     * Chooses the files of {@code folder} to copy and checks {@code config.json}.
     *
     * @throws UgmException of kind INVALID_INPUT when config.json is not valid JSON, of kind IO when
     *                      the folder cannot be read
     */
    public static ModelFiles scan(Path folder) {
        List<Source> sources = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        List<Path> entries = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(folder)) {
            files.forEach(entries::add);
        } catch (IOException e) {
            throw Messages.io(folder, "cannot list the model files", e);
        }
        entries.sort(Comparator.comparing(p -> p.getFileName().toString()));
        Path realFolder;
        try {
            realFolder = folder.toRealPath();
        } catch (IOException e) {
            throw Messages.io(folder, "cannot resolve", e);
        }
        for (Path f : entries) {
            String name = f.getFileName().toString();
            if (name.startsWith(".") || OutputFolder.isWeights(name) || Files.isDirectory(f, LinkOption.NOFOLLOW_LINKS)) {
                continue;
            }
            Path read = f;
            if (Files.isSymbolicLink(f)) {
                try {
                    read = f.toRealPath();
                } catch (NoSuchFileException e) {
                    warnings.add(f + " is a link to a missing file; not copied");
                    continue;
                } catch (IOException e) {
                    warnings.add(f + " is a link that cannot be followed (" + e.getMessage() + "); not copied");
                    continue;
                }
                if (Files.isDirectory(read)) {
                    continue; // a folder, like the folders skipped above
                }
                if (!ShardLinks.allowed(realFolder, read)) {
                    warnings.add(f + " is a link to " + read + ", outside the model folder; not copied");
                    continue;
                }
            }
            if (!Files.isRegularFile(read, LinkOption.NOFOLLOW_LINKS)) {
                warnings.add(f + " is not a regular file; not copied");
                continue;
            }
            sources.add(new Source(name, f, read));
        }
        for (Source s : sources) {
            if (s.name().equals(CONFIG)) {
                checkConfig(s);
            }
        }
        return new ModelFiles(folder, sources, warnings);
    }

    /** The folder scanned. */
    public Path folder() {
        return folder;
    }

    /**
     * Whether {@code name} is one of a tokenizer's files, as transformers and mergekit save and copy
     * them: {@code tokenizer*} and {@code tokenization_*} (its code), {@code vocab.*},
     * {@code special_tokens_map.json}, {@code added_tokens.json}, {@code merges.txt}, the
     * sentencepiece models ({@code spiece.model}, {@code sentencepiece.bpe.model}) and the chat
     * template ({@code chat_template.jinja}, {@code chat_template.json}).
     */
    public static boolean isTokenizerFile(String name) {
        return name.startsWith("tokenizer") || name.startsWith("tokenization_") || name.startsWith("vocab.")
                || TOKENIZER_NAMES.contains(name);
    }

    private static final java.util.Set<String> TOKENIZER_NAMES = java.util.Set.of("special_tokens_map.json",
            "added_tokens.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model", "chat_template.jinja",
            "chat_template.json");

    /** These files with only those whose name passes {@code keep} (the warnings of the scan kept). */
    public ModelFiles only(java.util.function.Predicate<String> keep) {
        return new ModelFiles(folder, sources.stream().filter(s -> keep.test(s.name())).toList(), warnings);
    }

    /** Whether the scan chose a file named {@code name}. */
    public boolean has(String name) {
        return sources.stream().anyMatch(s -> s.name().equals(name));
    }

    /**
     * Reads the chosen file {@code name} without following a link (the scan resolved it).
     *
     * @throws NoSuchFileException when the scan chose no such file
     */
    public InputStream open(String name) throws IOException {
        for (Source s : sources) {
            if (s.name().equals(name)) {
                return open(s);
            }
        }
        throw new NoSuchFileException(folder.resolve(name).toString());
    }

    /** A strict parser of the chosen JSON file {@code name}, as {@link #open(String)} reads it. */
    public JsonParser parser(String name) throws IOException {
        return JSON.createParser(new InputStreamReader(open(name), SafetensorsHeader.strictUtf8()));
    }

    /** The names of the files to copy, in order. */
    public List<String> names() {
        return sources.stream().map(Source::name).toList();
    }

    /** One line per file skipped and why, e.g. {@code DIR/tokenizer.json is a link to ..., outside the model folder; not copied}. */
    public List<String> warnings() {
        return warnings;
    }

    List<Source> sources() {
        return sources;
    }

    /** Reads {@code s} without following a link (the scan resolved it). */
    static InputStream open(Source s) throws IOException {
        return Files.newInputStream(s.read(), LinkOption.NOFOLLOW_LINKS);
    }

    /** A strict parser of {@code s}'s bytes: UTF-8 only, a byte order mark is an error (as in Python). */
    static JsonParser parser(Source s) throws IOException {
        return JSON.createParser(new InputStreamReader(open(s), SafetensorsHeader.strictUtf8()));
    }

    /** The whole file parses as one JSON object, followed by nothing. */
    private static void checkConfig(Source s) {
        try (JsonParser p = parser(s)) {
            JsonToken first = p.nextToken();
            if (first != JsonToken.START_OBJECT) {
                throw invalidConfig(s, first == null ? "empty" : "not a JSON object");
            }
            p.skipChildren();
            if (p.nextToken() != null) {
                throw invalidConfig(s, "not valid JSON: content follows the object (line "
                        + p.currentLocation().getLineNr() + ", column " + p.currentLocation().getColumnNr() + ")");
            }
        } catch (JsonProcessingException e) {
            throw invalidConfig(s, "not valid JSON: " + SafetensorsHeader.jsonProblem(e));
        } catch (java.nio.charset.CharacterCodingException e) {
            throw invalidConfig(s, "not valid UTF-8");
        } catch (IOException e) {
            throw Messages.io(s.path(), "cannot read", e);
        }
    }

    static UgmException invalidConfig(Source s, String problem) {
        return new UgmException(UgmException.Kind.INVALID_INPUT, Messages.of(s.path().toString(), null, problem));
    }
}

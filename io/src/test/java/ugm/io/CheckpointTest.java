package ugm.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.io.SafetensorsException.Rule;

/** Checkpoint folders: sharded round trips and every inconsistency between index and shards. */
class CheckpointTest {

    @TempDir
    Path dir;

    static TensorInfo t(String name, long elements) {
        return new TensorInfo(name, DType.F32, new long[] {elements});
    }

    static List<String> listing(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** Fills every tensor with a pattern derived from its name, so contents are checkable. */
    static void fill(MemorySegment s, String name) {
        for (long i = 0; i < s.byteSize() / 4; i++) {
            s.setAtIndex(ReferenceVectorsTest.F32, i, name.hashCode() + i);
        }
    }

    static void writeFile(Path file, List<TensorInfo> tensors) {
        try (SafetensorsWriter w = SafetensorsWriter.create(file, tensors, Map.of())) {
            tensors.forEach(x -> fill(w.target(x), x.name()));
            w.commit();
        }
    }

    @Test
    void greedySplit() {
        List<TensorInfo> ts = List.of(t("a", 100), t("b", 100), t("c", 100), t("huge", 1000), t("d", 10), t("e", 240));
        List<List<TensorInfo>> shards = ShardedWriter.split(ts, 1000);
        assertEquals(List.of(List.of("a", "b"), List.of("c"), List.of("huge"), List.of("d", "e")),
                shards.stream().map(s -> s.stream().map(TensorInfo::name).toList()).toList());
        assertEquals(1, ShardedWriter.split(List.of(), 10).size());
    }

    @Test
    void shardedRoundTrip() throws IOException {
        List<TensorInfo> tensors = List.of(t("layers.0.w", 100), t("layers.0.b", 50), t("layers.1.w", 100),
                t("layers.1.b", 50), t("big", 400), t("tail", 1), new TensorInfo("z.bf16", DType.BF16, new long[] {2, 3}));
        Path out = dir.resolve("out");
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("merged_by", "ugm");
        try (ShardedWriter w = ShardedWriter.create(out, tensors, meta, 1000)) {
            assertEquals(4, w.shardCount());
            for (TensorInfo x : tensors.reversed()) {
                fill(w.target(x), x.name());
            }
            assertEquals(List.of(), listing(out).stream().filter(n -> !n.startsWith(".")).toList());
            w.commit();
        }
        assertEquals(List.of("model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors",
                "model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors", "model.safetensors.index.json"), listing(out));
        String index = Files.readString(out.resolve("model.safetensors.index.json"));
        assertTrue(index.startsWith("{\n  \"metadata\": {\n    \"total_size\": " + (400 + 200 + 400 + 200 + 1600 + 4 + 12) + "\n  },\n  \"weight_map\": {\n"
                + "    \"big\": \"model-00003-of-00004.safetensors\",\n"), index);
        assertTrue(index.endsWith("    \"z.bf16\": \"model-00004-of-00004.safetensors\"\n  }\n}\n"), index);

        try (Checkpoint c = Checkpoint.open(out)) {
            assertEquals(4, c.files().size());
            assertEquals(out.resolve("model-00002-of-00004.safetensors"), c.files().get(1));
            // Greedy split: shard 1 is filled to exactly 1000 bytes. Shard by shard, each in data order.
            assertEquals(List.of("layers.0.b", "layers.0.w", "layers.1.w", "layers.1.b", "big", "tail", "z.bf16"),
                    c.tensors().stream().map(TensorInfo::name).toList());
            for (TensorInfo x : tensors) {
                assertEquals(x, c.info(x.name()));
                MemorySegment expected = MemorySegment.ofArray(new byte[(int) x.byteSize()]);
                fill(expected, x.name());
                assertEquals(-1, expected.mismatch(c.data(x.name())), x.name());
            }
            assertEquals(out.resolve("model-00003-of-00004.safetensors").toString(), c.locate("big"));
            assertEquals(List.of("format", "merged_by"), List.copyOf(c.metadata().keySet()));
            assertNull(c.info("missing"));
            assertThrows(IllegalArgumentException.class, () -> c.data("missing"));
            for (CheckpointFile shard : c.shards()) {
                assertEquals(meta, shard.metadata());
            }
        }
    }

    @Test
    void oneShardIsModelSafetensorsWithoutIndex() throws IOException {
        Path out = dir.resolve("single");
        List<TensorInfo> tensors = List.of(t("a", 4), t("b", 4));
        try (ShardedWriter w = ShardedWriter.create(out, tensors, Map.of())) {
            tensors.forEach(x -> fill(w.target(x), x.name()));
            w.commit();
        }
        assertEquals(List.of("model.safetensors"), listing(out));
        try (Checkpoint folder = Checkpoint.open(out); Checkpoint file = Checkpoint.open(out.resolve("model.safetensors"))) {
            assertEquals(List.of(out.resolve("model.safetensors")), folder.files());
            assertEquals(folder.tensors(), file.tensors());
            assertEquals(-1, folder.data("b").mismatch(file.data("b")));
            assertEquals(out.resolve("model.safetensors").toString(), folder.locate("a"));
        }
    }

    @Test
    void uncommittedShardedWriterLeavesAnEmptyFolder() throws IOException {
        Path out = dir.resolve("aborted");
        try (ShardedWriter w = ShardedWriter.create(out, List.of(t("a", 300), t("b", 300)), Map.of(), 1000)) {
            assertEquals(2, w.shardCount());
            fill(w.target(t("a", 300)), "a");
        }
        assertEquals(List.of(), listing(out));
    }

    @Test
    void closingTheCheckpointUnmapsEveryShard() {
        Path out = dir.resolve("c");
        try (ShardedWriter w = ShardedWriter.create(out, List.of(t("a", 300), t("b", 300)), Map.of(), 1000)) {
            w.commit();
        }
        MemorySegment a;
        MemorySegment b;
        try (Checkpoint c = Checkpoint.open(out)) {
            a = c.data("a");
            b = c.data("b");
            assertEquals(0f, b.get(ReferenceVectorsTest.F32, 0));
        }
        assertThrows(IllegalStateException.class, () -> a.get(ValueLayout.JAVA_BYTE, 0));
        assertThrows(IllegalStateException.class, () -> b.get(ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void twoOpeningsOfOneCheckpointHaveTheirOwnMappings() {
        Path out = dir.resolve("twice");
        try (ShardedWriter w = ShardedWriter.create(out, List.of(t("a", 300), t("b", 300)), Map.of(), 1000)) {
            fill(w.target(t("a", 300)), "a");
            w.commit();
        }
        Checkpoint first = Checkpoint.open(out);
        try (Checkpoint second = Checkpoint.open(out)) {
            MemorySegment a = second.data("a");
            first.close(); // closing one opening unmaps only its own files
            assertEquals("a".hashCode() + 7f, a.getAtIndex(ReferenceVectorsTest.F32, 7));
            assertThrows(IllegalStateException.class, () -> first.data("a").get(ValueLayout.JAVA_BYTE, 0));
        }
    }

    @Test
    void indexJsonMatchesPythonJsonDumps() {
        Map<String, String> weightMap = new TreeMap<>(JsonText.CODE_POINT_ORDER);
        weightMap.put("b\u00e9", "s2");
        weightMap.put("a\"\n", "s1");
        weightMap.put("\uD83D\uDE00", "s1");
        weightMap.put("\uFFFF", "s1");
        assertEquals("{\n  \"metadata\": {\n    \"total_size\": 7\n  },\n  \"weight_map\": {\n"
                + "    \"a\\\"\\n\": \"s1\",\n    \"b\\u00e9\": \"s2\",\n    \"\\uffff\": \"s1\",\n    \"\\ud83d\\ude00\": \"s1\"\n  }\n}\n",
                ShardedWriter.indexJson(weightMap, 7));
    }

    // ---- inconsistent folders ----

    /** Two shards (a, b) and (c), with the given index content. */
    Path folder(String indexJson) throws IOException {
        Path f = Files.createDirectories(dir.resolve("ckpt"));
        writeFile(f.resolve("s1.safetensors"), List.of(t("a", 2), t("b", 2)));
        writeFile(f.resolve("s2.safetensors"), List.of(t("c", 2)));
        Files.writeString(f.resolve("model.safetensors.index.json"), indexJson);
        return f;
    }

    static String index(String... pairs) {
        StringBuilder sb = new StringBuilder("{\"metadata\":{\"total_size\":24},\"weight_map\":{");
        for (int i = 0; i < pairs.length; i += 2) {
            sb.append(i == 0 ? "" : ",").append('"').append(pairs[i]).append("\":\"").append(pairs[i + 1]).append('"');
        }
        return sb.append("}}").toString();
    }

    SafetensorsException rejected(Path folder, Rule rule, Path file, String tensor) {
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> Checkpoint.open(folder).close());
        assertEquals(rule, e.rule(), e.getMessage());
        assertEquals(file.toString(), e.file(), e.getMessage());
        assertEquals(tensor, e.tensor(), e.getMessage());
        assertTrue(e.getMessage().startsWith(file + ": " + (tensor == null ? "" : "tensor '" + ugm.core.Printable.of(tensor) + "': ")),
                e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), e.getMessage());
        return e;
    }

    @Test
    void consistentHandWrittenIndexOpens() throws IOException {
        Path f = folder(index("a", "s1.safetensors", "b", "s1.safetensors", "c", "s2.safetensors"));
        try (Checkpoint c = Checkpoint.open(f)) {
            assertEquals(List.of("a", "b", "c"), c.tensors().stream().map(TensorInfo::name).toList());
            assertEquals(f.resolve("s2.safetensors").toString(), c.locate("c"));
        }
    }

    @Test
    void indexFileItselfAndTwoSpellingsOfOneShard() throws IOException {
        Path f = folder(index("a", "s1.safetensors", "b", "./s1.safetensors", "c", "s2.safetensors"));
        try (Checkpoint c = Checkpoint.open(f.resolve("model.safetensors.index.json"))) {
            assertEquals(2, c.files().size());
            assertEquals(List.of("a", "b", "c"), c.tensors().stream().map(TensorInfo::name).toList());
        }
    }

    @Test
    void noCheckpoint() throws IOException {
        Path empty = Files.createDirectories(dir.resolve("empty"));
        Files.writeString(empty.resolve("config.json"), "{}");
        rejected(empty, Rule.NO_CHECKPOINT, empty, null);
        rejected(dir.resolve("absent"), Rule.NO_CHECKPOINT, dir.resolve("absent"), null);
    }

    @Test
    void missingShard() throws IOException {
        Path f = folder(index("a", "s1.safetensors", "b", "s1.safetensors", "c", "s3.safetensors"));
        SafetensorsException e = rejected(f, Rule.MISSING_SHARD, f.resolve("model.safetensors.index.json"), "c");
        assertTrue(e.getMessage().contains("s3.safetensors"), e.getMessage());
    }

    @Test
    void tensorTheShardLacks() throws IOException {
        Path f = folder(index("a", "s1.safetensors", "b", "s1.safetensors", "c", "s2.safetensors", "d", "s2.safetensors"));
        SafetensorsException e = rejected(f, Rule.NOT_IN_SHARD, f.resolve("s2.safetensors"), "d");
        assertTrue(e.getMessage().contains("model.safetensors.index.json"), e.getMessage());
    }

    @Test
    void tensorPlacedInTheWrongShard() throws IOException {
        Path f = folder(index("a", "s1.safetensors", "b", "s2.safetensors", "c", "s2.safetensors"));
        SafetensorsException e = rejected(f, Rule.NOT_IN_SHARD, f.resolve("s2.safetensors"), "b");
        assertTrue(e.getMessage().contains("it is in s1.safetensors"), e.getMessage());
    }

    @Test
    void shardTensorTheIndexDoesNotName() throws IOException {
        Path f = folder(index("a", "s1.safetensors", "c", "s2.safetensors"));
        rejected(f, Rule.NOT_IN_INDEX, f.resolve("s1.safetensors"), "b");
    }

    @Test
    void tensorInTwoShards() throws IOException {
        Path f = folder(index("a", "s1.safetensors", "b", "s1.safetensors", "c", "s2.safetensors"));
        writeFile(f.resolve("s2.safetensors"), List.of(t("c", 2), t("a", 2)));
        SafetensorsException e = rejected(f, Rule.DUPLICATE_ACROSS_SHARDS, f.resolve("s2.safetensors"), "a");
        assertTrue(e.getMessage().contains("s1.safetensors"), e.getMessage());
    }

    @Test
    void malformedIndex() throws IOException {
        List<String> bad = List.of("{\"weight_map\":{\"a\":", "[]", "{\"metadata\":{}}", "{\"weight_map\":[]}",
                "{\"weight_map\":{\"a\":1}}", "{\"weight_map\":{\"a\":\"s1.safetensors\",\"a\":\"s1.safetensors\"}}",
                "{\"weight_map\":{}} x");
        for (String json : bad) {
            Path f = folder(json);
            SafetensorsException e = rejected(f, Rule.BAD_INDEX, f.resolve("model.safetensors.index.json"),
                    json.contains("\"a\":1") || json.contains("\"a\":\"s1.safetensors\",") ? "a" : null);
            assertTrue(e.getMessage().length() < 300, e.getMessage());
        }
        Path f = folder("");
        Files.write(f.resolve("model.safetensors.index.json"), new byte[] {'{', (byte) 0xFF, '}'});
        rejected(f, Rule.BAD_INDEX, f.resolve("model.safetensors.index.json"), null);
    }

    @Test
    void unpairedSurrogatesInTheWeightMapAreRefused() throws IOException {
        Path indexFile = dir.resolve("ckpt").resolve("model.safetensors.index.json");
        Path f = folder(index("a", "s1.safetensors", "b", "s1.safetensors", "c", "s2.safetensors", "d\\ud800", "s1.safetensors"));
        SafetensorsException e = rejected(f, Rule.BAD_INDEX, indexFile, "d\uD800");
        assertTrue(e.getMessage().startsWith(indexFile + ": tensor 'd\\ud800': "), e.getMessage());
        assertTrue(e.getMessage().contains("unpaired surrogate"), e.getMessage());
        Files.writeString(indexFile, index("a", "s1.safetensors", "b", "s1.safetensors", "c", "s2\\udc00.safetensors"));
        e = rejected(f, Rule.BAD_INDEX, indexFile, "c");
        assertTrue(e.getMessage().contains("unpaired surrogate"), e.getMessage());
    }

    @Test
    void shardNamesOutsideTheFolderAreRefused() throws IOException {
        Path secret = dir.resolve("outside.safetensors");
        writeFile(secret, List.of(t("a", 2)));
        for (String name : List.of("../outside.safetensors", "sub/../../outside.safetensors", secret.toAbsolutePath().toString(), "", ".")) {
            Path f = folder(index("a", name.replace("\\", "\\\\"), "b", "s1.safetensors", "c", "s2.safetensors"));
            SafetensorsException e = rejected(f, Rule.SHARD_OUTSIDE_FOLDER, f.resolve("model.safetensors.index.json"), "a");
            assertTrue(e.getMessage().contains("refused"), e.getMessage());
        }
    }

    @Test
    void aShardLinkPointingOutsideTheFolderIsRefused() throws IOException {
        Path secret = dir.resolve("outside.safetensors");
        writeFile(secret, List.of(t("a", 2)));
        Path f = folder(index("a", "link.safetensors", "b", "s1.safetensors", "c", "s2.safetensors"));
        Files.createSymbolicLink(f.resolve("link.safetensors"), secret);
        SafetensorsException e = rejected(f, Rule.SHARD_OUTSIDE_FOLDER, f.resolve("model.safetensors.index.json"), "a");
        assertTrue(e.getMessage().contains("link.safetensors\" is a link to " + secret.toRealPath()), e.getMessage());
        // A link through a linked sub-folder is refused the same way.
        Files.createSymbolicLink(f.resolve("sub"), dir);
        Path g = folder(index("a", "sub/outside.safetensors", "b", "s1.safetensors", "c", "s2.safetensors"));
        rejected(g, Rule.SHARD_OUTSIDE_FOLDER, g.resolve("model.safetensors.index.json"), "a");
    }

    @Test
    void linksInsideTheFolderAndHuggingFaceCacheSnapshotsOpen() throws IOException {
        Path f = folder(index("a", "alias.safetensors", "b", "alias.safetensors", "c", "s2.safetensors"));
        Files.createSymbolicLink(f.resolve("alias.safetensors"), Path.of("s1.safetensors"));
        Checkpoint.open(f).close();

        // models--org--name/snapshots/<rev>/model-*.safetensors -> ../../blobs/<hash>
        Path repo = dir.resolve("models--org--name");
        Path blobs = Files.createDirectories(repo.resolve("blobs"));
        Path snapshot = Files.createDirectories(repo.resolve("snapshots").resolve("0123abc"));
        writeFile(blobs.resolve("h1"), List.of(t("a", 2), t("b", 2)));
        writeFile(blobs.resolve("h2"), List.of(t("c", 2)));
        Files.createSymbolicLink(snapshot.resolve("s1.safetensors"), Path.of("../../blobs/h1"));
        Files.createSymbolicLink(snapshot.resolve("s2.safetensors"), Path.of("../../blobs/h2"));
        Files.writeString(snapshot.resolve("model.safetensors.index.json"),
                index("a", "s1.safetensors", "b", "s1.safetensors", "c", "s2.safetensors"));
        try (Checkpoint c = Checkpoint.open(snapshot)) {
            assertEquals(3, c.tensors().size());
        }
        // A folder in the snapshot (a model's hessian/) reads the same blobs: ../../../blobs/<hash>
        Path sub = Files.createDirectories(snapshot.resolve("hessian"));
        Files.createSymbolicLink(sub.resolve("s1.safetensors"), Path.of("../../../blobs/h1"));
        Files.createSymbolicLink(sub.resolve("s2.safetensors"), Path.of("../../../blobs/h2"));
        Files.writeString(sub.resolve("model.safetensors.index.json"),
                index("a", "s1.safetensors", "b", "s1.safetensors", "c", "s2.safetensors"));
        try (Checkpoint c = Checkpoint.open(sub)) {
            assertEquals(3, c.tensors().size());
        }
        // ...but not a link from a snapshot to anywhere else.
        Files.delete(snapshot.resolve("s2.safetensors"));
        writeFile(dir.resolve("elsewhere.safetensors"), List.of(t("c", 2)));
        Files.createSymbolicLink(snapshot.resolve("s2.safetensors"), dir.resolve("elsewhere.safetensors"));
        rejected(snapshot, Rule.SHARD_OUTSIDE_FOLDER, snapshot.resolve("model.safetensors.index.json"), "c");
    }

    @Test
    void aMalformedShardIsReportedWithItsOwnPath() throws IOException {
        Path f = folder(index("a", "s1.safetensors", "b", "s1.safetensors", "c", "s2.safetensors"));
        byte[] s2 = Files.readAllBytes(f.resolve("s2.safetensors"));
        Files.write(f.resolve("s2.safetensors"), java.util.Arrays.copyOf(s2, s2.length - 1));
        rejected(f, Rule.TRUNCATED, f.resolve("s2.safetensors"), "c");
    }

    @Test
    void shardedWriterRefusesDuplicates() {
        assertThrows(IllegalArgumentException.class,
                () -> ShardedWriter.create(dir.resolve("d"), new ArrayList<>(List.of(t("a", 1), t("a", 1))), Map.of(), 10));
        assertArrayEquals(new long[] {1}, t("a", 1).shape());
    }
}

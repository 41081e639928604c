package ugm.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.io.TorchException.Rule;
import ugm.io.TorchValue.BoolValue;
import ugm.io.TorchValue.BytesValue;
import ugm.io.TorchValue.DictValue;
import ugm.io.TorchValue.FloatValue;
import ugm.io.TorchValue.IntValue;
import ugm.io.TorchValue.ListValue;
import ugm.io.TorchValue.NoneValue;
import ugm.io.TorchValue.SetValue;
import ugm.io.TorchValue.StrValue;
import ugm.io.TorchValue.TensorValue;
import ugm.io.TorchValue.TupleValue;
import ugm.io.TorchZips.Pickle;

/**
 * The torch.save reader on files PyTorch 1.13 wrote (and on 2.x-shaped ones), values compared
 * with what make_fixtures.py put in them; and every way a file can be refused.
 */
class TorchFileTest {

    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    static float[] floats(MemorySegment s) {
        float[] f = new float[(int) (s.byteSize() / 4)];
        for (int i = 0; i < f.length; i++) {
            f[i] = s.get(F32, 4L * i);
        }
        return f;
    }

    static float[] affine(int n, float scale, float shift) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) (i * (double) scale + shift);
        }
        return f;
    }

    /** The tiny model of make_fixtures.py, whatever layout it was written in. */
    static void assertTiny(TorchStateDict sd) {
        // File order: lm_head.weight (last in the pickle) shares embed.weight's bytes.
        assertEquals(List.of("position_ids", "embed.weight", "lm_head.weight", "proj.weight", "proj.bias", "norm.weight", "norm.bias"),
                sd.tensors().stream().map(TensorInfo::name).toList());
        assertEquals(new TensorInfo("embed.weight", DType.F32, new long[] {4, 3}), sd.info("embed.weight"));
        assertEquals(new TensorInfo("lm_head.weight", DType.F32, new long[] {4, 3}), sd.info("lm_head.weight"));
        assertEquals(new TensorInfo("position_ids", DType.I64, new long[] {5}), sd.info("position_ids"));
        assertArrayEquals(affine(12, 0.5f, -1f), floats(sd.data("embed.weight")));
        assertArrayEquals(affine(12, 0.5f, -1f), floats(sd.data("lm_head.weight")));
        assertArrayEquals(affine(6, 0.25f, 0f), floats(sd.data("proj.weight")));
        assertArrayEquals(new float[] {-2f, 2f}, floats(sd.data("proj.bias")));
        assertArrayEquals(new float[] {1.5f, -1.5f}, floats(sd.data("norm.weight")));
        assertArrayEquals(new float[] {0.125f, 0f}, floats(sd.data("norm.bias")));
        MemorySegment ids = sd.data("position_ids");
        for (int i = 0; i < 5; i++) {
            assertEquals(i, ids.get(I64, 8L * i));
        }
        assertEquals(List.of("lm_head.weight"), sd.sharing("embed.weight"));
        assertEquals(List.of(List.of("embed.weight", "lm_head.weight")), sd.sharedGroups());
        assertEquals(sd.tensor("embed.weight").storage(), sd.tensor("lm_head.weight").storage());
        for (TensorInfo t : sd.tensors()) {
            MemorySegment data = sd.data(t.name());
            assertTrue(data.isMapped(), t.name() + " is a slice of the mapping");
            assertTrue(data.isReadOnly(), t.name());
            assertEquals(t.byteSize(), data.byteSize(), t.name());
        }
        assertEquals(Map.of(), sd.metadata());
        assertEquals(Checkpoint.PYTORCH, sd.format());
    }

    @Test
    void readsAStateDictWithTiedWeightsAsPyTorchWroteIt() {
        try (TorchStateDict sd = TorchStateDict.open(TorchZips.fixture("tiny/pytorch_model.bin"))) {
            assertTiny(sd);
            assertEquals("pytorch_model", sd.file().archiveName());
            assertFalse(sd.changedOnDisk());
        }
    }

    @Test
    void readsTheLayoutsOfPyTorch2AndOtherPickleProtocols() {
        // protocol4.pt: torch.save(..., pickle_protocol=4); torch2_layout.pt: the 2.x zip (byteorder,
        // .format_version, .storage_alignment, .data/serialization_id, zip64 end record);
        // torch2_zipfile.pt: the same entries moved with Python's zipfile (unaligned data).
        for (String f : new String[] {"protocol4.pt", "torch2_layout.pt", "torch2_zipfile.pt"}) {
            try (TorchStateDict sd = TorchStateDict.open(TorchZips.fixture(f))) {
                assertTiny(sd);
            }
        }
        try (TorchFile f = TorchFile.open(TorchZips.fixture("torch2_layout.pt"))) {
            assertEquals("archive", f.archiveName());
        }
    }

    @Test
    void readsEveryStorageTypeAndViewsAtAnOffset() {
        try (TorchStateDict sd = TorchStateDict.open(TorchZips.fixture("dtypes.pt"))) {
            assertEquals(DType.F64, sd.info("f64").dtype());
            MemorySegment f64 = sd.data("f64");
            assertEquals(0.5, f64.get(F64, 8));
            assertEquals(1.0, f64.get(F64, 16));
            assertEquals(new TensorInfo("f16", DType.F16, new long[] {2, 2}), sd.info("f16"));
            assertEquals(Float.floatToFloat16(4.5f), sd.data("f16").get(I16, 6));
            assertEquals(DType.BF16, sd.info("bf16").dtype());
            assertEquals((short) (Float.floatToIntBits(-0.75f) >>> 16), sd.data("bf16").get(I16, 6));
            assertEquals(DType.I64, sd.info("i64").dtype());
            assertEquals(-1L, sd.data("i64").get(I64, 0));
            assertEquals(DType.I16, sd.info("i16").dtype());
            assertEquals((short) 14, sd.data("i16").get(I16, 4));
            assertEquals(DType.I8, sd.info("i8").dtype());
            assertEquals((byte) -6, sd.data("i8").get(ValueLayout.JAVA_BYTE, 2));
            assertEquals(DType.U8, sd.info("u8").dtype());
            assertEquals((byte) 200, sd.data("u8").get(ValueLayout.JAVA_BYTE, 2));
            assertEquals(DType.BOOL, sd.info("bool").dtype());
            assertArrayEquals(new byte[] {1, 0, 1}, sd.data("bool").toArray(ValueLayout.JAVA_BYTE));
            assertEquals(new TensorInfo("scalar", DType.F64, new long[] {}), sd.info("scalar"));
            assertEquals(3.25, sd.data("scalar").get(F64, 0));
            assertEquals(new TensorInfo("empty", DType.F32, new long[] {0, 4}), sd.info("empty"));
            assertEquals(0, sd.data("empty").byteSize());
            // big[5:11] of arange(20): offset 5 into a storage of 20
            assertEquals(5, sd.tensor("slice").storageOffset());
            assertArrayEquals(affine(6, 1f, 5f), floats(sd.data("slice")));
            // rows[2:4] of arange(24).reshape(6, 4), int32
            assertEquals(new TensorInfo("rows", DType.I32, new long[] {2, 4}), sd.info("rows"));
            for (int i = 0; i < 8; i++) {
                assertEquals(8 + i, sd.data("rows").get(I32, 4L * i));
            }
            assertArrayEquals(new float[] {0f, 2f, 4f}, floats(sd.data("column")));
        }
    }

    @Test
    void readsPyTorch2TensorsOverUntypedStoragesWithTheirDtype() {
        try (TorchStateDict sd = TorchStateDict.open(TorchZips.fixture("torch2_v3.pt"))) {
            assertEquals(new TensorInfo("u16", DType.U16, new long[] {2, 2}), sd.info("u16"));
            MemorySegment u = sd.data("u16"); // offset 1 into [0, 1, 2, 65535, 7, 8]
            assertArrayEquals(new int[] {1, 2, 65535, 7},
                    new int[] {u.get(I16, 0) & 0xFFFF, u.get(I16, 2) & 0xFFFF, u.get(I16, 4) & 0xFFFF, u.get(I16, 6) & 0xFFFF});
            assertEquals(new TensorInfo("f8", DType.F8_E4M3, new long[] {4}), sd.info("f8"));
            assertArrayEquals(new byte[] {0x38, 0x40, (byte) 0xB8, 0}, sd.data("f8").toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(new float[] {1f, 2f, 3f}, floats(sd.data("f32")));
        }
    }

    @Test
    void readsAnOptimizerStateAsAValueTree() {
        try (TorchFile f = TorchFile.open(TorchZips.fixture("optimizer.pt"))) {
            DictValue root = assertInstanceOf(DictValue.class, f.root());
            DictValue state = assertInstanceOf(DictValue.class, root.get("state"));
            DictValue p0 = assertInstanceOf(DictValue.class, state.get(0));
            TensorValue v = assertInstanceOf(TensorValue.class, p0.get("exp_avg_sq"));
            assertArrayEquals(new long[] {2, 3}, v.shape());
            float[] expected = new float[6];
            for (int i = 0; i < 6; i++) {
                expected[i] = (float) (i * 0.001 + 0.001);
            }
            assertArrayEquals(expected, floats(v.data()));
            assertArrayEquals(affine(6, 0.5f, 0f), floats(((TensorValue) p0.get("exp_avg")).data()));
            TensorValue step = assertInstanceOf(TensorValue.class, p0.get("step"));
            assertEquals(0, step.shape().length);
            assertEquals(2f, step.data().get(F32, 0));
            DictValue p1 = (DictValue) state.get(1);
            assertArrayEquals(new float[] {0.25f, 0.5f}, floats(((TensorValue) p1.get("exp_avg_sq")).data()));

            ListValue groups = assertInstanceOf(ListValue.class, root.get("param_groups"));
            DictValue g0 = (DictValue) groups.items().get(0);
            assertEquals(new ListValue(List.of(new IntValue(0))), g0.get("params"));
            assertEquals(new FloatValue(0.01), g0.get("weight_decay"));
            assertEquals(new FloatValue(0.001), g0.get("lr"));
            assertEquals(new TupleValue(List.of(new FloatValue(0.9), new FloatValue(0.999))), g0.get("betas"));
            assertEquals(new BoolValue(false), g0.get("amsgrad"));
            assertEquals(NoneValue.INSTANCE, g0.get("foreach"));
            assertEquals(new IntValue(0), ((DictValue) groups.items().get(1)).get("weight_decay"));
            assertEquals(new ListValue(List.of(new IntValue(1))), ((DictValue) groups.items().get(1)).get("params"));

            assertEquals(List.of("state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq", "state.1.step", "state.1.exp_avg",
                    "state.1.exp_avg_sq"), List.copyOf(f.tensors().keySet()));
            TorchException e = assertThrows(TorchException.class, f::stateDict);
            assertEquals(Rule.NOT_STATE_DICT, e.rule());
        }
    }

    @Test
    void readsEveryKindOfDataInProtocols2And4() {
        for (String file : new String[] {"data_p2.pt", "data_p4.pt"}) {
            try (TorchFile f = TorchFile.open(TorchZips.fixture(file))) {
                DictValue d = (DictValue) f.root();
                assertEquals(NoneValue.INSTANCE, d.get("none"), file);
                assertEquals(new BoolValue(true), d.get("true"), file);
                assertEquals(new BoolValue(false), d.get("false"), file);
                assertEquals(new IntValue(7), d.get("small"), file);
                assertEquals(new IntValue(-300), d.get("negative"), file);
                assertEquals(new IntValue(Integer.MAX_VALUE), d.get("int32"), file);
                assertEquals(new IntValue(1L << 40), d.get("big"), file);
                assertEquals(new IntValue(Long.MIN_VALUE), d.get("min64"), file);
                assertEquals(new FloatValue(0.1), d.get("float"), file);
                assertEquals(new StrValue("h\u00e9llo \u2713"), d.get("text"), file);
                assertEquals(new BytesValue(new byte[] {0, 1, (byte) 0xFF}), d.get("bytes"), file);
                assertEquals(new TupleValue(List.of(new IntValue(1), new StrValue("two"), new FloatValue(3.0))), d.get("tuple"), file);
                assertEquals(new ListValue(List.of(new ListValue(List.of(new IntValue(1), new IntValue(2))),
                        new ListValue(List.of(new IntValue(3))))), d.get("list"), file);
                assertEquals(new SetValue(java.util.Set.of(new IntValue(3)), false), d.get("set"), file);
                assertEquals(new SetValue(java.util.Set.of(new StrValue("x")), true), d.get("frozen"), file);
                assertEquals(new TupleValue(List.of(new IntValue(2), new IntValue(3))), d.get("size"), file);
                assertEquals(new StrValue("one"), ((DictValue) d.get("int_keys")).get(1), file);
                assertArrayEquals(new float[] {1f, 2f, 3f, 4f}, floats(((TensorValue) d.get("tensor")).data()), file);
            }
        }
    }

    @Test
    void readsParametersAsTheirTensors() {
        try (TorchFile f = TorchFile.open(TorchZips.fixture("parameter.pt"))) {
            TensorValue p = (TensorValue) ((DictValue) f.root()).get("p");
            assertArrayEquals(new long[] {2, 2}, p.shape());
            assertArrayEquals(new float[] {10f, 11f, 12f, 13f}, floats(p.data()));
        }
    }

    @Test
    void closingUnmapsTheTensors() {
        TorchStateDict sd = TorchStateDict.open(TorchZips.fixture("tiny/pytorch_model.bin"));
        MemorySegment w = sd.data("proj.weight");
        sd.close();
        sd.close();
        assertThrows(IllegalStateException.class, () -> w.get(F32, 0));
        assertThrows(IllegalArgumentException.class, () -> TorchStateDict.open(TorchZips.fixture("dtypes.pt")).data("nope"));
    }

    // ---- refusals, each one line naming the file (and the tensor where there is one)

    private static TorchException refused(Path file, Rule rule, String... parts) {
        TorchException e = assertThrows(TorchException.class, () -> TorchStateDict.open(file).close());
        assertEquals(rule, e.rule(), e.getMessage());
        assertTrue(e.getMessage().startsWith(file.toString() + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), () -> "<" + e.getMessage() + "> lacks <" + p + ">");
        }
        return e;
    }

    @Test
    void refusesHostilePicklesByTheGlobalTheyName() {
        refused(TorchZips.fixture("bad/os_system.pt"), Rule.FORBIDDEN_GLOBAL, "refused global 'posix.system'", "never runs code");
        refused(TorchZips.fixture("bad/eval.pt"), Rule.FORBIDDEN_GLOBAL, "refused global 'builtins.eval'");
        byte[] pkl = new Pickle().global("numpy.core.multiarray", "_reconstruct").op(')', 'R').stop();
        refused(TorchZips.write(dir.resolve("numpy.pt"), TorchZips.torchZip(pkl, Map.of())), Rule.FORBIDDEN_GLOBAL,
                "numpy.core.multiarray._reconstruct");
    }

    @Test
    void refusesWhatItCannotMapNamingTheTensor() {
        TorchException e = refused(TorchZips.fixture("bad/transposed.pt"), Rule.NON_CONTIGUOUS, "tensor 'transposed'",
                "stride [1, 3]", ".contiguous()");
        assertEquals("transposed", e.tensor());
        refused(TorchZips.fixture("bad/short_storage.pt"), Rule.STORAGE_TOO_SHORT, "tensor 'w'", "bytes [8, 24)", "has 16");
        refused(TorchZips.fixture("bad/missing_storage.pt"), Rule.BAD_STORAGE, "storage '9' has no entry archive/data/9");
        refused(TorchZips.fixture("bad/big_endian.pt"), Rule.BYTE_ORDER, "big-endian");
        refused(TorchZips.fixture("bad/compressed.pt"), Rule.NOT_STORED, "archive/data/0 is compressed");
        refused(TorchZips.fixture("bad/legacy.pt"), Rule.NOT_TORCH_ZIP, "legacy format");
        refused(TorchZips.fixture("bad/not_state_dict.pt"), Rule.NOT_STATE_DICT, "'epoch' is a int");
    }

    @Test
    void refusesMalformedPicklesWithOneLine() {
        Map<String, byte[]> none = Map.of();
        Object[][] cases = {
            {new Pickle().op(0xFF).stop(), Rule.BAD_PICKLE, "invalid opcode 0xff"},
            {new Pickle().op('h', 7).stop(), Rule.BAD_PICKLE, "memo reference 7 is not in the memo"},
            {new Pickle().op('a').stop(), Rule.BAD_PICKLE, "stack underflow"},
            {new Pickle().op('(', '.').bytes(), Rule.BAD_PICKLE, "stack underflow"},
            {new Pickle().op('e').stop(), Rule.BAD_PICKLE, "no MARK"},
            {new Pickle().op(']').bytes(), Rule.BAD_PICKLE, "without a STOP"},
            {new Pickle().op('X', 0xFF, 0xFF, 0xFF, 0x7F).stop(), Rule.BAD_PICKLE, "truncated"},
            {new Pickle().op(0x8a, 9, 1, 0, 0, 0, 0, 0, 0, 0, 1).stop(), Rule.BAD_PICKLE, "wider than 64 bits"},
            {new Pickle().op(0x95, 0xFF, 0, 0, 0, 0, 0, 0, 0, 'N').stop(), Rule.BAD_PICKLE, "frame"},
            {new Pickle().op('}', ']', ']', 's').stop(), Rule.BAD_PICKLE, "cannot hash"},
            {new Pickle().op(']', 'q', 0, 'h', 0, 'a').stop(), Rule.TOO_LARGE, "recursive"},
            {new Pickle().op('N', ')', 'R').stop(), Rule.BAD_PICKLE, "not a function"},
            {new Pickle().op(0x80, 9).stop(), Rule.BAD_PICKLE, "protocol 9"},
            {new Pickle().op('I').stop(), Rule.BAD_PICKLE, "unsupported or invalid opcode 0x49 ('I')"},
        };
        for (Object[] c : cases) {
            Path f = TorchZips.write(dir.resolve("case.pt"), TorchZips.torchZip((byte[]) c[0], none));
            refused(f, (Rule) c[1], "archive/data.pkl", (String) c[2]);
        }
        Pickle deep = new Pickle();
        for (int i = 0; i < 200; i++) {
            deep.op(']');
        }
        for (int i = 0; i < 199; i++) {
            deep.op('a');
        }
        refused(TorchZips.write(dir.resolve("deep.pt"), TorchZips.torchZip(deep.stop(), none)), Rule.TOO_LARGE, "deeper than 100");
    }

    @Test
    void aPickleThatReusesOneObjectManyTimesStaysLinear() {
        // A tuple built of two copies of the one before, 60 times over, as a dict key: 2^60 values
        // if expanded. Refused (keys are small) instead of hashed forever.
        Pickle key = new Pickle().op('}', ')', 'q', 0, '0');
        Pickle list = new Pickle().op(']', 'q', 0, '0');
        for (int i = 0; i < 60; i++) {
            key.op('h', i, 'h', i, 0x86, 'q', i + 1, '0');
            list.op('(', 'h', i, 'h', i, 'l', 'q', i + 1, '0');
        }
        Path k = TorchZips.write(dir.resolve("key.pt"), TorchZips.torchZip(key.op('h', 60, 'N', 's').stop(), Map.of()));
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(10),
                () -> refused(k, Rule.TOO_LARGE, "more than 1000 values"));
        // The same shape of lists as a value: read, and walked once per object.
        Path l = TorchZips.write(dir.resolve("list.pt"), TorchZips.torchZip(list.op('h', 60).stop(), Map.of()));
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(10), () -> {
            try (TorchFile f = TorchFile.open(l)) {
                assertInstanceOf(ListValue.class, f.root());
                assertEquals(Map.of(), f.tensors());
            }
        });
    }

    @Test
    void refusesATensorPastItsStorageOrWithABadShape() {
        Pickle p = new Pickle().op('}', 'q', 0).str("w").tensor("0", 4, 3, new int[] {2}, new int[] {1}).op('s');
        Path f = TorchZips.write(dir.resolve("past.pt"), TorchZips.torchZip(p.stop(), Map.of("0", new byte[16])));
        refused(f, Rule.STORAGE_TOO_SHORT, "tensor 'w'", "bytes [12, 20)");
        p = new Pickle().op('}').str("w").tensor("0", 4, 0, new int[] {2}, new int[] {1, 1}).op('s');
        refused(TorchZips.write(dir.resolve("rank.pt"), TorchZips.torchZip(p.stop(), Map.of("0", new byte[16]))), Rule.BAD_TENSOR,
                "tensor 'w'", "does not match");
        p = new Pickle().op('}').str("w").tensor("0", 5, 0, new int[] {2}, new int[] {1}).op('s');
        refused(TorchZips.write(dir.resolve("size.pt"), TorchZips.torchZip(p.stop(), Map.of("0", new byte[16]))), Rule.BAD_STORAGE,
                "declares 5 elements", "holds 16 bytes");
    }

    @Test
    void refusesEveryTruncationOfAFileWithOneLine() throws IOException {
        byte[] whole = Files.readAllBytes(TorchZips.fixture("torch2_layout.pt"));
        for (int n = 0; n < whole.length; n += 7) {
            Path f = TorchZips.write(dir.resolve("cut.pt"), java.util.Arrays.copyOf(whole, n));
            TorchException e = assertThrows(TorchException.class, () -> TorchStateDict.open(f).close(), "cut at " + n);
            assertFalse(e.getMessage().contains("\n"));
            assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        }
    }

    @Test
    void refusesZipsThatAreNotTorchFiles() {
        Map<String, byte[]> flat = new java.util.LinkedHashMap<>();
        flat.put("data.pkl", new Pickle().op('N').stop());
        refused(TorchZips.write(dir.resolve("flat.pt"), TorchZips.zip(flat)), Rule.BAD_LAYOUT, "not in a folder");
        Map<String, byte[]> script = new java.util.LinkedHashMap<>();
        script.put("m/data.pkl", new Pickle().op('N').stop());
        script.put("m/constants.pkl", new Pickle().op('N').stop());
        refused(TorchZips.write(dir.resolve("script.pt"), TorchZips.zip(script)), Rule.NOT_TORCH_ZIP, "TorchScript");
        Map<String, byte[]> nopkl = new java.util.LinkedHashMap<>();
        nopkl.put("m/version", "3\n".getBytes());
        refused(TorchZips.write(dir.resolve("nopkl.pt"), TorchZips.zip(nopkl)), Rule.BAD_LAYOUT, "no m/data.pkl");
        refused(TorchZips.write(dir.resolve("text.pt"), "just some text, not a zip at all".getBytes()), Rule.NOT_TORCH_ZIP,
                "not a torch.save file");
    }
}

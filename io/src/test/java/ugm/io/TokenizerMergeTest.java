package ugm.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.TensorSource;
import ugm.core.UgmException;
import ugm.io.TokenizerMerge.Tokens;
import ugm.io.Vocabulary.Added;

/** The output vocabulary of mergekit's tokenizer sources, the defaults of the rows, and the rows a view copies. */
class TokenizerMergeTest {
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    static Added special(String content, int id) {
        return new Added(content, id, true, false, false, false, false);
    }

    /** Tokens {@code plain} at ids 0.., then {@code added} after them. */
    static Tokens tokens(String name, List<String> plain, List<Added> added, int size) {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (int i = 0; i < plain.size(); i++) {
            vocab.put(plain.get(i), i);
        }
        added.forEach(a -> vocab.put(a.content(), a.id()));
        return new Tokens(name, vocab, added, size);
    }

    @Test
    void aUnionTakesThePlainTokensOfEveryTokenizerFirstThenTheAddedOnes() {
        Tokens base = tokens("base", List.of("x", "y"), List.of(special("<s>", 2), special("<pad>", 3)), 3);
        Tokens m1 = tokens("m1", List.of("y", "z", "w"), List.of(special("<a>", 3), special("<s>", 4)), 5);
        Tokens m2 = tokens("m2", List.of("q", "z"), List.of(special("<b>", 2), Added.plain("<a>", 3), Added.plain("r", 4)), 4);
        List<String> warnings = new ArrayList<>();
        TokenizerMerge.Output out = TokenizerMerge.build(TokenizerMerge.Source.UNION, base, List.of(m1, m2), null, List.of("new", "x"),
                warnings::add);
        assertEquals(List.of("x", "y", "<s>", "z", "w", "q", "<a>", "<b>", "new"), List.copyOf(out.vocab().keySet()));
        assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8), List.copyOf(out.vocab().values()));
        assertEquals(List.of(Added.plain("z", 3), Added.plain("w", 4), Added.plain("q", 5), special("<a>", 6), special("<b>", 7),
                Added.plain("new", 8)), out.addedTokens());
        assertEquals(List.of(special("<pad>", 3)), out.dropped(), "the base's added token at its vocab_size is dropped");
        assertEquals(List.of("token '<a>' is added with different settings by m2 than before; the first settings are kept (as mergekit does)"),
                warnings);
        assertFalse(out.unchanged());
        TokenizerMerge.Output same = TokenizerMerge.build(TokenizerMerge.Source.BASE, tokens("b", List.of("x"), List.of(), 1), List.of(m1),
                null, List.of(), warnings::add);
        assertTrue(same.unchanged());
    }

    @Test
    void aBaseWhosePlainTokensReachPastItsVocabSizeOrWithAGapIsRefused() {
        Tokens base = tokens("base", List.of("x", "y", "z"), List.of(), 2);
        UgmException e = assertThrows(UgmException.class, () -> TokenizerMerge.build(TokenizerMerge.Source.BASE, base, List.of(), null,
                List.of(), w -> { }));
        assertEquals("the tokenizer of base has token 'z' at id 2, beyond its vocab_size 2; ugm drops only added tokens beyond vocab_size"
                + " from a tokenizer", e.getMessage());
        Tokens gap = new Tokens("gap", Map.of("x", 0, "y", 2), List.of(), 3);
        e = assertThrows(UgmException.class, () -> TokenizerMerge.build(TokenizerMerge.Source.MODEL, base, List.of(), gap, List.of(), w -> { }));
        assertEquals("the tokenizer of gap has no token of id 1 (its ids must be 0 to 1 to give the embeddings' rows)", e.getMessage());
    }

    @Test
    void fishersWithoutAnInputAverageTheOthers() {
        Map<String, Integer> vocab = new LinkedHashMap<>(Map.of("a", 0));
        vocab.put("b", 1);
        Tokens m0 = tokens("m0", List.of("a"), List.of(), 1);
        Tokens m1 = tokens("m1", List.of("b", "a"), List.of(), 2);
        Tokens base = tokens("base", List.of("a", "b"), List.of(), 2);
        TokenizerMerge.Plan plan = TokenizerMerge.plan(vocab, List.of(m0, m1, base), 2, Map.of(), null, w -> { });
        assertEquals(new TokenizerMerge.Fill(new int[] {2}, new int[] {1}), plan.defaults()[1], "b: the base's row");
        TokenizerMerge.Plan fishers = plan.restrictedTo(new boolean[] {true, true, false});
        assertEquals(new TokenizerMerge.Fill(new int[] {1}, new int[] {0}), fishers.defaults()[1], "b: m1's, the base has no Fisher");
        assertTrue(plan.identity(2, 2));
        assertFalse(plan.identity(1, 2));
    }

    static short bf16(double v) {
        int bits = Float.floatToRawIntBits((float) v);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    static double fromBf16(short s) {
        return Float.intBitsToFloat((s & 0xFFFF) << 16);
    }

    @Test
    void aViewCopiesOwnRowsAndAveragesOthersInDoubleRoundedOnceToItsDtype() {
        // model 0 (BF16) has a, b; model 1 (F32) has b, a, c; no base: c comes from model 1, and the output pads to 4 rows.
        Map<String, Integer> vocab = new LinkedHashMap<>();
        vocab.put("a", 0);
        vocab.put("b", 1);
        vocab.put("c", 2);
        Tokens t0 = tokens("m0", List.of("a", "b"), List.of(), 2);
        Tokens t1 = tokens("m1", List.of("b", "a", "c"), List.of(), 3);
        Tokens t2 = tokens("m2", List.of("c"), List.of(), 1);
        TokenizerMerge.Plan plan = TokenizerMerge.plan(vocab, List.of(t0, t1, t2), -1, Map.of(), 4, w -> { });
        int cols = 5;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s0 = arena.allocate(2L * cols * 2);
            double[][] v0 = new double[2][cols];
            MemorySegment s1 = arena.allocate(3L * cols * 4);
            double[][] v1 = new double[3][cols];
            MemorySegment s2 = arena.allocate(1L * cols * 4);
            double[][] v2 = new double[1][cols];
            for (int c = 0; c < cols; c++) {
                for (int r = 0; r < 2; r++) {
                    short b = bf16(r + c / 3.0);
                    s0.setAtIndex(I16, r * cols + c, b);
                    v0[r][c] = fromBf16(b);
                }
                for (int r = 0; r < 3; r++) {
                    v1[r][c] = (float) (10 + r + c / 7.0);
                    s1.setAtIndex(F32, r * cols + c, (float) v1[r][c]);
                }
                v2[0][c] = (float) (-3 - c / 9.0);
                s2.setAtIndex(F32, c, (float) v2[0][c]);
            }
            String name = "model.embed_tokens.weight";
            List<TensorSource> raw = List.of(new MemoryTensors("m0").add(name, DType.BF16, new long[] {2, cols}, s0),
                    new MemoryTensors("m1").add(name, DType.F32, new long[] {3, cols}, s1),
                    new MemoryTensors("m2").add(name, DType.F32, new long[] {1, cols}, s2));
            try (PermutedEmbeddings view = new PermutedEmbeddings(raw.get(0), 0, raw, plan, Set.of(name))) {
                assertTrue(view.changes());
                assertEquals(List.of(4L, (long) cols), List.of(view.info(name).shape()[0], view.info(name).shape()[1]));
                MemorySegment d = view.data(name);
                double[][] expected = new double[4][cols];
                for (int c = 0; c < cols; c++) {
                    expected[0][c] = v0[0][c];
                    expected[1][c] = v0[1][c];
                    expected[2][c] = fromBf16(bf16((v1[2][c] + v2[0][c]) / 2)); // c: the mean of the two that have it
                    expected[3][c] = fromBf16(bf16((expected[0][c] + expected[1][c] + expected[2][c]) / 3));
                }
                for (int r = 0; r < 4; r++) {
                    for (int c = 0; c < cols; c++) {
                        assertEquals(expected[r][c], fromBf16(d.getAtIndex(I16, r * cols + c)), "row " + r + " column " + c);
                    }
                }
            }
            try (PermutedEmbeddings view = new PermutedEmbeddings(raw.get(1), 1, raw, plan, Set.of(name))) {
                MemorySegment d = view.data(name);
                for (int c = 0; c < cols; c++) {
                    assertEquals((float) v1[1][c], d.getAtIndex(F32, c), "a is m1's row 1");
                    assertEquals((float) v1[0][c], d.getAtIndex(F32, cols + c), "b is m1's row 0");
                }
            }
        }
    }
}

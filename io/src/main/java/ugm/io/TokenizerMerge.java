package ugm.io;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import ugm.core.UgmException;
import ugm.io.Vocabulary.Added;

/**
 * mergekit's tokenizer merge: the output vocabulary a tokenizer source chooses, and for each
 * input (the models and the base) which of its embedding rows becomes each output row, and what
 * stands in for the tokens it lacks. Pure: it sees vocabularies, never tensors.
 */
public final class TokenizerMerge {
    private TokenizerMerge() {
    }

    /**
     * One input's tokenizer: its vocabulary (token to id, added tokens included), its added tokens
     * in id order, and {@code size}, the embedding rows it uses ({@code vocab_size}, else the vocabulary's size):
     * a token whose id is not below it counts as absent.
     */
    public record Tokens(String name, Map<String, Integer> vocab, List<Added> added, int size) {
    }

    /** mergekit's tokenizer sources. */
    public enum Source { BASE, UNION, MODEL }

    /**
     * The output vocabulary: token to id (the ids 0 to n-1, in id order); the tokens added to the
     * chosen tokenizer (new ids, in order), and the chosen tokenizer's added tokens it drops (ids
     * at or beyond the base's vocab_size).
     */
    public record Output(Map<String, Integer> vocab, List<Added> addedTokens, List<Added> dropped) {
        /** Whether it is the chosen tokenizer as it is. */
        public boolean unchanged() {
            return addedTokens.isEmpty() && dropped.isEmpty();
        }
    }

    /**
     * The output vocabulary, as mergekit builds it: {@code BASE} is the base's tokenizer without its
     * tokens at or beyond its vocab_size; {@code MODEL} is {@code chosen} as it is; {@code UNION} is the
     * base's (so stripped) followed by the other tokenizers' tokens it lacks, taken tokenizer by tokenizer
     * (in {@code others}' order) in id order: first the model-vocabulary tokens, as plain added tokens,
     * then the added tokens with their settings (the first tokenizer's settings win, with a warning when
     * they differ). Then each of {@code extra} it lacks ({@code tokenizer.tokens}' keys) as a plain added token.
     *
     * @param base   the base's tokenizer (with no base, the first model's)
     * @param others the other inputs' tokenizers (those that have one), in order
     * @param chosen for {@code MODEL}, that tokenizer; else null
     * @throws UgmException of kind INVALID_INPUT when the output's ids are not 0 to n-1, or the base's
     *                      vocabulary (not only its added tokens) reaches beyond its vocab_size
     */
    public static Output build(Source source, Tokens base, List<Tokens> others, Tokens chosen, List<String> extra,
                               Consumer<String> warn) {
        Map<String, Integer> out = new LinkedHashMap<>();
        List<Added> dropped = new ArrayList<>();
        Tokens from = source == Source.MODEL ? chosen : base;
        if (source == Source.MODEL) {
            out.putAll(chosen.vocab);
        } else {
            Set<String> addedNames = names(base.added);
            for (Map.Entry<String, Integer> e : base.vocab.entrySet()) {
                if (e.getValue() < base.size) {
                    out.put(e.getKey(), e.getValue());
                } else if (!addedNames.contains(e.getKey())) {
                    throw new UgmException(UgmException.Kind.INVALID_INPUT, "the tokenizer of " + base.name + " has token '"
                            + e.getKey() + "' at id " + e.getValue() + ", beyond its vocab_size " + base.size
                            + "; ugm drops only added tokens beyond vocab_size from a tokenizer");
                }
            }
            base.added.stream().filter(a -> a.id() >= base.size).forEach(dropped::add);
        }
        List<Added> added = new ArrayList<>();
        int next = out.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        if (source == Source.UNION) {
            List<Tokens> all = new ArrayList<>();
            all.add(base);
            all.addAll(others);
            Map<String, Added> addedTokens = new LinkedHashMap<>();
            Set<String> plain = new java.util.LinkedHashSet<>();
            Set<String> warned = new HashSet<>();
            for (Tokens t : all) {
                Set<String> addedNames = names(t.added);
                t.vocab.entrySet().stream().filter(e -> e.getValue() < t.size && !addedNames.contains(e.getKey()))
                        .sorted(Map.Entry.comparingByValue()).forEach(e -> plain.add(e.getKey()));
                for (Added a : t.added) {
                    if (a.id() >= t.size) {
                        continue;
                    }
                    Added first = addedTokens.putIfAbsent(a.content(), a);
                    if (first != null && !first.sameSettings(a) && warned.add(a.content())) {
                        warn.accept("token '" + a.content() + "' is added with different settings by " + t.name
                                + " than before; the first settings are kept (as mergekit does)");
                    }
                }
            }
            for (String tok : plain) {
                if (!addedTokens.containsKey(tok) && !out.containsKey(tok)) {
                    Added a = Added.plain(tok, next++);
                    out.put(tok, a.id());
                    added.add(a);
                }
            }
            for (Added a : addedTokens.values()) {
                if (!out.containsKey(a.content())) {
                    Added n = a.withId(next++);
                    out.put(n.content(), n.id());
                    added.add(n);
                }
            }
        }
        for (String tok : extra) {
            if (!out.containsKey(tok)) {
                Added a = Added.plain(tok, next++);
                out.put(tok, a.id());
                added.add(a);
            }
        }
        Map<String, Integer> sorted = new LinkedHashMap<>();
        out.entrySet().stream().sorted(Map.Entry.comparingByValue()).forEach(e -> sorted.put(e.getKey(), e.getValue()));
        int i = 0;
        for (Map.Entry<String, Integer> e : sorted.entrySet()) {
            if (e.getValue() != i++) {
                throw new UgmException(UgmException.Kind.INVALID_INPUT, "the tokenizer of " + from.name + " has no token of id "
                        + (i - 1) + " (its ids must be 0 to " + (sorted.size() - 1) + " to give the embeddings' rows)");
            }
        }
        return new Output(sorted, List.copyOf(added), List.copyOf(dropped));
    }

    private static Set<String> names(List<Added> added) {
        Set<String> s = new HashSet<>();
        added.forEach(a -> s.add(a.content()));
        return s;
    }

    /** What a {@code tokenizer.tokens} entry gives a token. */
    public sealed interface Rule {
        /** Whether every input takes the rule's row, even one that has the token. */
        boolean force();

        /** Input {@code input}'s own row of the token. */
        record FromInput(int input, boolean force) implements Rule {
        }

        /** Zeros. */
        record Zero(boolean force) implements Rule {
        }

        /** Input {@code input}'s row of another token: {@code token} (in its tokenizer), else id {@code tokenId}. */
        record InputToken(int input, String token, Integer tokenId, boolean force) implements Rule {
        }
    }

    /**
     * The rows an input's embedding gets: for output id {@code id}, input {@code i}'s own row
     * {@code present[i][id]} (-1 where it lacks the token), unless the token is {@code forced} or
     * lacking: then {@code defaults[id]}; then {@code rows - tokens} padding rows, the mean of the others.
     */
    public record Plan(int rows, int tokens, int[][] present, boolean[] forced, Fill[] defaults) {
        /** Input {@code i}'s row for output id {@code id}, or -1 where the default stands in. */
        public int own(int i, int id) {
            return forced[id] ? -1 : present[i][id];
        }

        /** Whether input {@code i}'s embedding of {@code embedRows} rows is this plan's as it is. */
        public boolean identity(int i, long embedRows) {
            if (embedRows != rows || rows != tokens) {
                return false;
            }
            for (int id = 0; id < tokens; id++) {
                if (own(i, id) != id) {
                    return false;
                }
            }
            return true;
        }

        /**
         * The plan for tensors only some inputs have (the Fishers, {@code has[i]}): a default that reads an
         * input without one becomes the mean of the rows of the inputs that have both the token and the
         * tensor; zeros when none has.
         */
        public Plan restrictedTo(boolean[] has) {
            Fill[] d = new Fill[defaults.length];
            for (int id = 0; id < d.length; id++) {
                Fill f = defaults[id];
                if (Arrays.stream(f.inputs()).allMatch(i -> has[i])) {
                    d[id] = f;
                    continue;
                }
                List<int[]> pairs = new ArrayList<>();
                for (int i = 0; i < present.length; i++) {
                    if (has[i] && present[i][id] >= 0) {
                        pairs.add(new int[] {i, present[i][id]});
                    }
                }
                d[id] = Fill.of(pairs);
            }
            return new Plan(rows, tokens, present, forced, d);
        }
    }

    /**
     * The plan of the output vocabulary {@code vocab} for {@code inputs} (the models, then the base),
     * with mergekit's defaults: a token with a rule takes it; a token one input has, that input's row;
     * a token none has, zeros (with a warning); a token the base has, the base's row; else the mean of
     * the rows of the inputs that have it. {@code padTo} (null: none) rounds the rows up to a multiple.
     *
     * @param base  the base's index among {@code inputs}, or -1
     * @param rules {@code tokenizer.tokens}: token to rule, each token in {@code vocab}
     * @throws UgmException of kind INVALID_INPUT when a rule names a token an input lacks
     */
    public static Plan plan(Map<String, Integer> vocab, List<Tokens> inputs, int base, Map<String, Rule> rules, Integer padTo,
                            Consumer<String> warn) {
        int n = vocab.size();
        int[][] present = new int[inputs.size()][n];
        for (int i = 0; i < inputs.size(); i++) {
            Tokens t = inputs.get(i);
            for (Map.Entry<String, Integer> e : vocab.entrySet()) {
                Integer id = t.vocab.get(e.getKey());
                present[i][e.getValue()] = id != null && id < t.size ? id : -1;
            }
        }
        boolean[] forced = new boolean[n];
        Fill[] defaults = new Fill[n];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            String token = e.getKey();
            int id = e.getValue();
            List<int[]> having = new ArrayList<>();
            for (int i = 0; i < inputs.size(); i++) {
                if (present[i][id] >= 0) {
                    having.add(new int[] {i, present[i][id]});
                }
            }
            Rule rule = rules.get(token);
            if (rule != null) {
                forced[id] = rule.force();
                defaults[id] = fill(rule, token, id, inputs, present);
            } else if (having.size() == 1) {
                defaults[id] = Fill.of(having);
            } else if (having.isEmpty()) {
                warn.accept("token '" + token + "' is in none of the models; its embedding rows are zeros (as in mergekit)");
                defaults[id] = Fill.of(having);
            } else if (base >= 0 && present[base][id] >= 0) {
                defaults[id] = Fill.of(List.of(new int[] {base, present[base][id]}));
            } else {
                defaults[id] = Fill.of(having);
            }
        }
        int rows = padTo == null || n % padTo == 0 ? n : (n / padTo + 1) * padTo;
        return new Plan(rows, n, present, forced, defaults);
    }

    private static Fill fill(Rule rule, String token, int id, List<Tokens> inputs, int[][] present) {
        return switch (rule) {
            case Rule.Zero z -> Fill.of(List.of());
            case Rule.FromInput f -> {
                if (present[f.input()][id] < 0) {
                    throw new UgmException(UgmException.Kind.INVALID_INPUT, "tokenizer.tokens: token '" + token + "' is not in the"
                            + " vocabulary of " + inputs.get(f.input()).name + ", its source");
                }
                yield Fill.of(List.<int[]>of(new int[] {f.input(), present[f.input()][id]}));
            }
            case Rule.InputToken t -> {
                Tokens in = inputs.get(t.input());
                Integer row = t.tokenId() != null ? t.tokenId() : in.vocab.get(t.token());
                if (row == null) {
                    throw new UgmException(UgmException.Kind.INVALID_INPUT, "tokenizer.tokens: token '" + token + "': its source token '"
                            + t.token() + "' is not in the vocabulary of " + in.name);
                }
                if (row < 0 || row >= in.size) {
                    throw new UgmException(UgmException.Kind.INVALID_INPUT, "tokenizer.tokens: token '" + token + "': its source token id "
                            + row + " is not a row of the " + in.size + " of " + in.name);
                }
                yield Fill.of(List.<int[]>of(new int[] {t.input(), row}));
            }
        };
    }

    /** The mean of rows {@code rows[k]} of inputs {@code inputs[k]}: one row copied, none zeros. */
    public record Fill(int[] inputs, int[] rows) {
        static Fill of(List<int[]> pairs) {
            return new Fill(pairs.stream().mapToInt(p -> p[0]).toArray(), pairs.stream().mapToInt(p -> p[1]).toArray());
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Fill f && Arrays.equals(inputs, f.inputs) && Arrays.equals(rows, f.rows);
        }

        @Override
        public int hashCode() {
            return 31 * Arrays.hashCode(inputs) + Arrays.hashCode(rows);
        }

        @Override
        public String toString() {
            return "Fill" + Arrays.toString(inputs) + Arrays.toString(rows);
        }
    }
}

package org.wrpn.dist;

import org.wrpn.BadInputException;

/**
 * Slurm's compact host lists (SLURM_JOB_NODELIST), e.g. {@code gpu[01-04,07],login2}: only what a
 * rendezvous needs, the first host, with the range's zero padding and any suffix kept
 * ({@code n[001-003]-ib} → {@code n001-ib}).
 */
public final class SlurmNodeList {
    private SlurmNodeList() {}

    /** The first host of the list; a malformed list is a BadInputException naming the variable. */
    public static String firstHost(String list, String variable) {
        String s = list == null ? "" : list.strip();
        if (s.isEmpty()) throw new BadInputException(variable + " is empty");
        int comma = topLevelComma(s, variable);
        String first = comma < 0 ? s : s.substring(0, comma);
        int open = first.indexOf('[');
        if (open < 0) {
            if (first.isEmpty() || first.indexOf(']') >= 0) throw bad(variable, list);
            return first;
        }
        int close = first.indexOf(']', open);
        if (open == 0 || close < 0) throw bad(variable, list);
        String ranges = first.substring(open + 1, close);
        String firstRange = ranges.split(",", -1)[0];
        String start = firstRange.split("-", -1)[0];
        if (start.isEmpty() || !start.chars().allMatch(Character::isDigit)) throw bad(variable, list);
        String suffix = first.substring(close + 1);
        if (suffix.indexOf('[') >= 0 || suffix.indexOf(']') >= 0) throw bad(variable, list);
        return first.substring(0, open) + start + suffix;
    }

    /** The first comma outside brackets, or -1. */
    private static int topLevelComma(String s, String variable) {
        int depth = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '[') depth++;
            else if (c == ']') depth--;
            else if (c == ',' && depth == 0) return i;
            if (depth < 0 || depth > 1) throw bad(variable, s);
        }
        if (depth != 0) throw bad(variable, s);
        return -1;
    }

    private static BadInputException bad(String variable, String list) {
        return new BadInputException(variable + " is not a Slurm host list: '" + list + "'");
    }
}
